import { dimsEqual, type Dim } from "../../core/dims.ts";
import { consumersOf, isElementwise, isMovement, type Graph, type Node } from "../../core/graph.ts";
import type { Draft } from "./draft.ts";
import { INLINE_MAX_K, STAGE_MAX_ROW } from "./limits.ts";

export type OperandSide = "first" | "other";

export function sameShape(a: Node, b: Node): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => dimsEqual(d, b.shape[i]));
}

// Cheap enough to recompute on every load of a matmul operand (each element is loaded N/tile times).
const CHEAP_ON_LOAD: ReadonlySet<string> = new Set([
  "add",
  "sub",
  "mul",
  "div",
  "max",
  "min",
  "neg",
  "abs",
  "relu",
  "rsqrt",
  "sqrt",
  "recip",
]);

export function cheapOnLoad(n: Node): boolean {
  return n.op.kind === "const" || ((n.op.kind === "unary" || n.op.kind === "binary") && CHEAP_ON_LOAD.has(n.op.fn));
}

/**
 * Whether `a` (a matmul's A) is the row kernel's output `root` itself, or a reshape of it that merges
 * whole rows: [.., R, C] -> [.., R / G, G C], batch axes equal or all of size 1.
 */
export function viewsWholeRows(a: Node, root: Node): boolean {
  if (a.id === root.id) return true;
  if (a.op.kind !== "reshape" || a.inputs[0] !== root.id) return false;
  const [from, to] = [root.shape, a.shape];
  const c = from[from.length - 1];
  const k = to[to.length - 1];
  if (typeof c !== "number" || typeof k !== "number" || k % c !== 0) return false;
  const [fb, tb] = [from.slice(0, -2), to.slice(0, -2)];
  const ones = (s: readonly Dim[]): boolean => s.every((d) => d === 1);
  return (ones(fb) && ones(tb)) || (fb.length === tb.length && fb.every((d, i) => dimsEqual(d, tb[i])));
}

/** What the fusion rules ask of the graph and of a kernel being grown: facts about paths, operands and rows. */
export class FusionFacts {
  readonly consumers: number[][];
  readonly outputs: ReadonlySet<number>;
  // Elementwise math on a matmul's result with no view in between: part of that matmul's epilogue.
  private readonly epilogueOfMatmul: boolean[] = [];

  constructor(readonly g: Graph) {
    this.consumers = consumersOf(g);
    this.outputs = new Set(g.outputs.map((o) => o.node));
    for (const n of g.nodes)
      this.epilogueOfMatmul[n.id] = isElementwise(n) && n.inputs.some((i) => g.nodes[i].op.kind === "matmul" || this.epilogueOfMatmul[i]);
  }

  node(id: number): Node {
    return this.g.nodes[id];
  }

  continuesMatmul(n: Node): boolean {
    return this.epilogueOfMatmul[n.id];
  }

  isAttentionCore(d: Draft): boolean {
    return d.core !== null && this.node(d.core).op.kind === "attention";
  }

  /** Which operand of the core `n` feeds: "first" (a matmul's A), "other", or null when it feeds no operand. */
  operandSide(n: Node, d: Draft): OperandSide | null {
    const core = d.core === null ? null : this.node(d.core);
    let side: OperandSide | null = null;
    for (const c of this.consumers[n.id]) {
      if (core && c === core.id) side = core.op.kind === "matmul" && core.inputs[0] === n.id && core.inputs[1] !== n.id ? "first" : "other";
      else if (d.prologue.has(c)) side = side === "other" ? "other" : "first";
      else if (d.operandViews.has(c) || d.inlined.has(c)) side = "other";
    }
    return side;
  }

  /** Whether every consumer of `n` is the core or already folded into the loads of that operand. */
  usedOnlyOnLoad(n: Node, d: Draft, side: OperandSide): boolean {
    const set = side === "first" ? d.prologue : d.operandViews;
    return this.consumers[n.id].every(
      (c) => c === d.core || set.has(c) || d.inlined.has(c) || (side === "first" && this.feedsRowStatsOnly(c, d)),
    );
  }

  /** Whether member `c` is a row statistic of A or elementwise math used only by those (evaluated on the loads of A). */
  feedsRowStatsOnly(c: number, d: Draft): boolean {
    return (
      d.rowStats.includes(c) ||
      (d.members.has(c) && isElementwise(this.node(c)) && this.consumers[c].every((x) => this.feedsRowStatsOnly(x, d)))
    );
  }

  /** x - x[..., :1]: each row shifted by its first element (a LayerNorm folded past a matmul reads its input so). */
  isRowShift(n: Node): boolean {
    if (n.op.kind !== "binary" || n.op.fn !== "sub") return false;
    const s = this.node(n.inputs[1]);
    return (
      s.op.kind === "slice" &&
      s.inputs[0] === n.inputs[0] &&
      s.op.axis === s.shape.length - 1 &&
      s.op.start === 0 &&
      s.shape[s.op.axis] === 1
    );
  }

  /**
   * Whether `n` reaches attention's keys or values: each query's invocation loads every key and value,
   * so math there would be redone once per query (a rotary embedding of k is written once instead).
   */
  feedsKeysOrValues(n: Node, d: Draft): boolean {
    const core = this.node(d.core ?? -1);
    return this.consumers[n.id].some((c) =>
      c === core.id ? core.inputs.slice(1, 3).includes(n.id) : d.members.has(c) && this.feedsKeysOrValues(this.node(c), d),
    );
  }

  /**
   * Whether every path from `n` to the root of `d` passes only elementwise ops, so a row statistic is
   * read at the coordinates of its own row. Paths may also end in a later reduction of the same rows.
   */
  flowsElementwiseToRoot(n: Node, d: Draft): boolean {
    return this.consumers[n.id].every((c) => {
      if (!d.members.has(c) || d.reduces.includes(c)) return true;
      return isElementwise(this.node(c)) && (c === d.root || this.flowsElementwiseToRoot(this.node(c), d));
    });
  }

  /** Whether every path from `n` up to the root of `d` stays elementwise with the root's shape (so the value is per output element). */
  flowsPointwiseToRoot(n: Node, d: Draft): boolean {
    const root = this.node(d.root);
    return this.consumers[n.id].every((c) => {
      if (!d.members.has(c)) return true;
      const cn = this.node(c);
      if (!isElementwise(cn) || !sameShape(cn, root)) return false;
      return c === d.root || this.flowsPointwiseToRoot(cn, d);
    });
  }

  /** A contraction that becomes the core of a kernel so far made of elementwise math of its result's shape. */
  joinsAsCore(n: Node, d: Draft): boolean {
    return d.core === null && d.reduces.length === 0 && sameShape(n, this.node(d.root)) && this.flowsPointwiseToRoot(n, d);
  }

  /**
   * A contraction whose result is rearranged (a class token concatenated in front) before the kernel's
   * output cannot be a tiled core; when K is small it becomes a dot-product loop inside the consuming
   * kernel instead of a kernel and a buffer of its own. In a row kernel it must feed only the staged
   * input of the reductions, so each dot product runs once.
   */
  canInline(n: Node, d: Draft): boolean {
    const a = this.node(n.inputs[0]);
    const k = a.shape[a.shape.length - 1];
    if (d.core !== null || typeof k !== "number" || k > INLINE_MAX_K) return false;
    if (!this.reachesOnlyConcats(n, d)) return false;
    if (d.reduces.length === 0) return true;
    const first = this.node(Math.min(...d.reduces));
    const staged = first.inputs[0];
    const rowLength = this.node(staged).shape[d.axis];
    if (d.axis !== first.shape.length - 1 || typeof rowLength !== "number" || rowLength > STAGE_MAX_ROW) return false;
    const pre = this.ancestorsIn(staged, d);
    return [n.id, ...pre].every((y) => this.consumers[y].every((c) => !d.members.has(c) || pre.has(c) || c === staged));
  }

  /** Whether `n`'s value, through elementwise ops only, is used solely as a part of concatenations in `d`. */
  private reachesOnlyConcats(n: Node, d: Draft): boolean {
    return this.consumers[n.id].every((c) => {
      const cn = this.node(c);
      if (!d.members.has(c)) return false;
      if (cn.op.kind === "concat") return true;
      return isElementwise(cn) && this.reachesOnlyConcats(cn, d);
    });
  }

  /** Members of `d` that `x` depends on. */
  ancestorsIn(x: number, d: Draft): Set<number> {
    const seen = new Set<number>();
    const stack = [...this.node(x).inputs];
    while (stack.length) {
      const id = stack.pop() as number;
      if (seen.has(id) || !d.members.has(id)) continue;
      seen.add(id);
      stack.push(...this.node(id).inputs);
    }
    return seen;
  }

  /** A sum over the rows of the matmul's A operand, which the main loop can accumulate for the epilogue. */
  isRowStatistic(n: Node, d: Draft): boolean {
    if (n.op.kind !== "reduce" || n.op.fn === "max" || d.core === null || d.reduces.length > 0) return false;
    const core = this.node(d.core);
    if (core.op.kind !== "matmul") return false;
    const a = this.node(core.inputs[0]);
    const input = this.node(n.inputs[0]);
    const batch = core.shape.slice(0, -2);
    if (a.shape.length !== core.shape.length || !a.shape.slice(0, -2).every((x, i) => dimsEqual(x, batch[i]))) return false;
    return n.op.axis === a.shape.length - 1 && this.elementwiseFrom(input, a.id) && this.onlyAfterCore(n, d);
  }

  /** A reduction over the rows the kernel's earlier reductions read (or, for the first, of the root's shape), read back per row. */
  reducesSameRows(n: Node, d: Draft): boolean {
    if (n.op.kind !== "reduce") return false;
    const input = this.node(n.inputs[0]);
    if (d.reduces.length > 0) {
      const first = this.node(d.reduces[0]);
      if (d.axis !== n.op.axis || !sameShape(this.node(first.inputs[0]), input)) return false;
    } else if (!sameShape(input, this.node(d.root))) {
      return false;
    }
    // Between a reduction and the root (or a later reduction of the same rows) only elementwise ops may
    // stand, so each row reads its own statistic.
    return this.flowsElementwiseToRoot(n, d);
  }

  /** Whether `n` is computed from the node `from` by elementwise math alone, at the same coordinates. */
  private elementwiseFrom(n: Node, from: number): boolean {
    return (
      n.id === from ||
      n.op.kind === "const" ||
      (isElementwise(n) && sameShape(n, this.node(from)) && n.inputs.every((i) => this.elementwiseFrom(this.node(i), from)))
    );
  }

  /** Whether `n`'s value is used only after the core (in the epilogue), never on the way into it. */
  private onlyAfterCore(n: Node, d: Draft): boolean {
    return this.consumers[n.id].every(
      (c) =>
        c !== d.core &&
        !d.prologue.has(c) &&
        !d.operandViews.has(c) &&
        !d.inlined.has(c) &&
        (!d.members.has(c) || this.onlyAfterCore(this.node(c), d)),
    );
  }

  /** Members that may be recomputed on every load of a matmul's A: views, reductions and cheap math. */
  cheapToRecompute(members: Iterable<number>): boolean {
    return [...members].every((m) => isMovement(this.node(m)) || this.node(m).op.kind === "reduce" || cheapOnLoad(this.node(m)));
  }
}
