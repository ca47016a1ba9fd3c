import { dimsEqual, type Dim } from "../../core/dims.ts";
import { INLINE_MAX_K, STAGE_MAX_ROW } from "./limits.ts";
import { consumersOf, isElementwise, isMovement, type Graph, type Node } from "../../core/graph.ts";
import type { KernelKind } from "../../core/plan.ts";

export interface KernelGroup {
  kind: KernelKind;
  /** The node this kernel writes. */
  root: number;
  /** Every node computed inside the kernel, in topological order (root last). */
  members: number[];
  /** The matmul or attention node at the heart of the kernel. */
  core: number | null;
  /** Reductions computed as per-row statistics (row kernels; a matmul's normalisation on load). */
  reduces: number[];
  /**
   * Sums over the rows of a matmul's A operand that the epilogue uses (the statistics of a
   * normalisation folded past the matmul), computed from the same rows of A the kernel loads.
   */
  rowStats: number[];
  /** The axis row kernels reduce along. */
  axis: number;
  /**
   * Small contractions computed inside a pointwise or row kernel as dot-product loops (the patch
   * embedding under a class-token concat, position embedding and pre-norm). A row kernel with one
   * stages the input of its reductions in workgroup memory, so each dot product runs once.
   */
  inlined: number[];
}

export interface FusionOptions {
  /** One primitive per kernel: the unfused baseline for comparisons and debugging. */
  fuse: boolean;
}

interface Draft {
  root: number;
  members: Set<number>;
  core: number | null;
  reduces: number[];
  rowStats: number[];
  axis: number;
  /** Nodes computed on load of the core's first operand (a matmul's A): views, cheap math, row statistics. */
  prologue: Set<number>;
  /** Views folded into the loads of the core's other operands (and of inlined contractions). */
  operandViews: Set<number>;
  inlined: Set<number>;
}

function sameShape(a: Node, b: Node): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => dimsEqual(d, b.shape[i]));
}

/** Nodes that live in buffers of their own: inputs and checkpoint parameters. */
export function isBufferSource(n: Node): boolean {
  return n.op.kind === "input" || n.op.kind === "param";
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

function cheapOnLoad(n: Node): boolean {
  return n.op.kind === "const" || ((n.op.kind === "unary" || n.op.kind === "binary") && CHEAP_ON_LOAD.has(n.op.fn));
}

/**
 * Whether `a` (a matmul's A) is the row kernel's output `root` itself, or a reshape of it that merges
 * whole rows: [.., R, C] -> [.., R / G, G C], batch axes equal or all of size 1.
 */
function viewsWholeRows(_g: Graph, a: Node, root: Node): boolean {
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

/**
 * A normalisation (a row kernel) whose only consumer is a matmul's A operand becomes that matmul's
 * prologue: each tile computes the statistics of the rows it reads, and the normalised values are never
 * written to memory. Normalisations that feed a linear layer directly are folded past the matmul before
 * fusion (foldNormsIntoLinears); this takes the others, such as Qwen2-VL's merger, which normalises each
 * patch and then merges 2x2 patches into one row. Only cheap elementwise math joins, since it is
 * recomputed on every load.
 */
function absorbNormalizations(g: Graph, drafts: Draft[], consumers: number[][], outputs: ReadonlySet<number>): void {
  const byRoot = new Map(drafts.map((d) => [d.root, d]));
  for (const d of drafts) {
    if (d.core === null || g.nodes[d.core].op.kind !== "matmul" || d.rowStats.length > 0) continue;
    const a = g.nodes[g.nodes[d.core].inputs[0]];
    const rootId = a.op.kind === "reshape" && d.prologue.has(a.id) ? a.inputs[0] : a.id;
    const row = byRoot.get(rootId);
    if (!row || row.core !== null || row.inlined.size > 0 || row.reduces.length === 0 || outputs.has(rootId)) continue;
    const root = g.nodes[rootId];
    const rowInput = g.nodes[g.nodes[row.reduces[0]].inputs[0]];
    if (row.axis !== rowInput.shape.length - 1 || !sameShape(rowInput, root) || !viewsWholeRows(g, a, root)) continue;
    if (!consumers[rootId].every((c) => c === a.id) || g.nodes[d.core].inputs[1] === a.id) continue;
    if (![...row.members].every((m) => isMovement(g.nodes[m]) || g.nodes[m].op.kind === "reduce" || cheapOnLoad(g.nodes[m]))) continue;
    for (const m of row.members) {
      d.members.add(m);
      d.prologue.add(m);
    }
    d.reduces.push(...row.reduces);
    drafts.splice(drafts.indexOf(row), 1);
    byRoot.delete(rootId);
  }
}

/**
 * Partitions a graph into kernels, walking from the outputs back to the inputs: a node joins the kernel of
 * its consumers when they all belong to one kernel and the template can compute it there; otherwise it is
 * written to a buffer and becomes the root of a kernel of its own.
 */
export function groupKernels(g: Graph, options: FusionOptions): KernelGroup[] {
  const consumers = consumersOf(g);
  const outputs = new Set(g.outputs.map((o) => o.node));
  const owner = new Map<number, Draft>();
  const drafts: Draft[] = [];

  const startKernel = (n: Node): void => {
    const d: Draft = {
      root: n.id,
      members: new Set([n.id]),
      core: null,
      reduces: [],
      rowStats: [],
      axis: -1,
      prologue: new Set(),
      operandViews: new Set(),
      inlined: new Set(),
    };
    if (n.op.kind === "matmul" || n.op.kind === "attention") d.core = n.id;
    if (n.op.kind === "reduce") {
      d.reduces.push(n.id);
      d.axis = n.op.axis;
    }
    owner.set(n.id, d);
    drafts.push(d);
  };

  /**
   * Whether every path from `n` to the root of `d` passes only elementwise ops, so a row statistic is
   * read at the coordinates of its own row. Paths may also end in a later reduction of the same rows.
   */
  const flowsElementwiseToRoot = (n: Node, d: Draft): boolean =>
    consumers[n.id].every((c) => {
      if (!d.members.has(c) || d.reduces.includes(c)) return true;
      return isElementwise(g.nodes[c]) && (c === d.root || flowsElementwiseToRoot(g.nodes[c], d));
    });

  /** Whether every path from `n` up to the root of `d` stays elementwise with the root's shape (so the value is per output element). */
  const flowsPointwiseToRoot = (n: Node, d: Draft): boolean => {
    const root = g.nodes[d.root];
    return consumers[n.id].every((c) => {
      if (!d.members.has(c)) return true;
      const cn = g.nodes[c];
      if (!isElementwise(cn) || !sameShape(cn, root)) return false;
      return c === d.root || flowsPointwiseToRoot(cn, d);
    });
  };

  /** Which operand of the core `n` feeds: "first" (a matmul's A), "other", or null when it feeds no operand. */
  const operandSide = (n: Node, d: Draft): "first" | "other" | null => {
    const core = d.core === null ? null : g.nodes[d.core];
    let side: "first" | "other" | null = null;
    for (const c of consumers[n.id]) {
      if (core && c === core.id) side = core.op.kind === "matmul" && core.inputs[0] === n.id && core.inputs[1] !== n.id ? "first" : "other";
      else if (d.prologue.has(c)) side = side === "other" ? "other" : "first";
      else if (d.operandViews.has(c) || d.inlined.has(c)) side = "other";
    }
    return side;
  };

  // Elementwise math on a matmul's result with no view in between: part of that matmul's epilogue.
  const epilogueOfMatmul: boolean[] = [];
  for (const n of g.nodes)
    epilogueOfMatmul[n.id] = isElementwise(n) && n.inputs.some((i) => g.nodes[i].op.kind === "matmul" || epilogueOfMatmul[i]);
  const continuesMatmul = (n: Node): boolean => epilogueOfMatmul[n.id];

  /** x - x[..., :1]: each row shifted by its first element (a LayerNorm folded past a matmul reads its input so). */
  const isRowShift = (n: Node): boolean => {
    if (n.op.kind !== "binary" || n.op.fn !== "sub") return false;
    const s = g.nodes[n.inputs[1]];
    return (
      s.op.kind === "slice" &&
      s.inputs[0] === n.inputs[0] &&
      s.op.axis === s.shape.length - 1 &&
      s.op.start === 0 &&
      s.shape[s.op.axis] === 1
    );
  };

  /**
   * Whether `n` reaches attention's keys or values: each query's invocation loads every key and value,
   * so math there would be redone once per query (a rotary embedding of k is written once instead).
   */
  const feedsKeysOrValues = (n: Node, d: Draft): boolean => {
    const core = g.nodes[d.core ?? -1];
    return consumers[n.id].some((c) =>
      c === core.id ? core.inputs.slice(1, 3).includes(n.id) : d.members.has(c) && feedsKeysOrValues(g.nodes[c], d),
    );
  };

  // Operands of a matmul or attention are re-read many times: views fold into those loads, and for
  // attention's queries cheap elementwise math too (a rotary embedding on load); normalisations before
  // a matmul join later (absorbNormalizations), once epilogues have taken their activations.
  const canJoinOperand = (n: Node, d: Draft, side: "first" | "other"): boolean => {
    const set = side === "first" ? d.prologue : d.operandViews;
    const attention = d.core !== null && g.nodes[d.core].op.kind === "attention";
    // A matmul's own epilogue (bias, folded normalisation, activation) stays with that matmul.
    // Cheap math on attention's operands (a rotary embedding) is recomputed on every load; so is a row
    // shift on a matmul's A, which each invocation loads once per row and step of K.
    const foldable =
      isMovement(n) ||
      (attention && isElementwise(n) && cheapOnLoad(n) && !continuesMatmul(n) && !feedsKeysOrValues(n, d)) ||
      (side === "first" && isRowShift(n));
    return (
      foldable &&
      consumers[n.id].every((c) => c === d.core || set.has(c) || d.inlined.has(c) || (side === "first" && feedsRowStatsOnly(c, d)))
    );
  };

  /** Whether member `c` is a row statistic of A or elementwise math used only by those (evaluated on the loads of A). */
  const feedsRowStatsOnly = (c: number, d: Draft): boolean =>
    d.rowStats.includes(c) || (d.members.has(c) && isElementwise(g.nodes[c]) && consumers[c].every((x) => feedsRowStatsOnly(x, d)));

  /** Members of `d` that `x` depends on. */
  const ancestorsIn = (x: number, d: Draft): Set<number> => {
    const seen = new Set<number>();
    const stack = [...g.nodes[x].inputs];
    while (stack.length) {
      const id = stack.pop() as number;
      if (seen.has(id) || !d.members.has(id)) continue;
      seen.add(id);
      stack.push(...g.nodes[id].inputs);
    }
    return seen;
  };

  /** Whether `n`'s value, through elementwise ops only, is used solely as a part of concatenations in `d`. */
  const reachesOnlyConcats = (n: Node, d: Draft): boolean =>
    consumers[n.id].every((c) => {
      const cn = g.nodes[c];
      if (!d.members.has(c)) return false;
      if (cn.op.kind === "concat") return true;
      return isElementwise(cn) && reachesOnlyConcats(cn, d);
    });

  /**
   * A contraction whose result is rearranged (a class token concatenated in front) before the kernel's
   * output cannot be a tiled core; when K is small it becomes a dot-product loop inside the consuming
   * kernel instead of a kernel and a buffer of its own. In a
   * row kernel it must feed only the staged input of the reductions, so each dot product runs once.
   */
  const canInline = (n: Node, d: Draft): boolean => {
    const a = g.nodes[n.inputs[0]];
    const k = a.shape[a.shape.length - 1];
    if (d.core !== null || typeof k !== "number" || k > INLINE_MAX_K) return false;
    if (!reachesOnlyConcats(n, d)) return false;
    if (d.reduces.length === 0) return true;
    const first = g.nodes[Math.min(...d.reduces)];
    const staged = first.inputs[0];
    const rowLength = g.nodes[staged].shape[d.axis];
    if (d.axis !== first.shape.length - 1 || typeof rowLength !== "number" || rowLength > STAGE_MAX_ROW) return false;
    const pre = ancestorsIn(staged, d);
    return [n.id, ...pre].every((y) => consumers[y].every((c) => !d.members.has(c) || pre.has(c) || c === staged));
  };

  /** Whether `n` is computed from the node `from` by elementwise math alone, at the same coordinates. */
  const elementwiseFrom = (n: Node, from: number): boolean =>
    n.id === from ||
    n.op.kind === "const" ||
    (isElementwise(n) && sameShape(n, g.nodes[from]) && n.inputs.every((i) => elementwiseFrom(g.nodes[i], from)));

  /** Whether `n`'s value is used only after the core (in the epilogue), never on the way into it. */
  const onlyAfterCore = (n: Node, d: Draft): boolean =>
    consumers[n.id].every(
      (c) =>
        c !== d.core &&
        !d.prologue.has(c) &&
        !d.operandViews.has(c) &&
        !d.inlined.has(c) &&
        (!d.members.has(c) || onlyAfterCore(g.nodes[c], d)),
    );

  /** A sum over the rows of the matmul's A operand, which the main loop can accumulate for the epilogue. */
  const isRowStatistic = (n: Node, d: Draft): boolean => {
    if (n.op.kind !== "reduce" || n.op.fn === "max" || d.core === null || d.reduces.length > 0) return false;
    const core = g.nodes[d.core];
    if (core.op.kind !== "matmul") return false;
    const a = g.nodes[core.inputs[0]];
    const input = g.nodes[n.inputs[0]];
    const batch = core.shape.slice(0, -2);
    if (a.shape.length !== core.shape.length || !a.shape.slice(0, -2).every((x, i) => dimsEqual(x, batch[i]))) return false;
    return n.op.axis === a.shape.length - 1 && elementwiseFrom(input, a.id) && onlyAfterCore(n, d);
  };

  const joinsAsCore = (n: Node, d: Draft): boolean =>
    d.core === null && d.reduces.length === 0 && sameShape(n, g.nodes[d.root]) && flowsPointwiseToRoot(n, d);

  const canJoin = (n: Node, d: Draft): boolean => {
    const kind = n.op.kind;
    const side = operandSide(n, d);
    if (side !== null) return canJoinOperand(n, d, side);
    if (isMovement(n) || isElementwise(n)) return true;
    if (kind === "matmul") return joinsAsCore(n, d) || canInline(n, d);
    if (kind === "reduce") {
      if (d.core !== null) return isRowStatistic(n, d);
      const input = g.nodes[n.inputs[0]];
      if (d.reduces.length > 0) {
        const first = g.nodes[d.reduces[0]];
        if (d.axis !== n.op.axis || !sameShape(g.nodes[first.inputs[0]], input)) return false;
      } else if (!sameShape(input, g.nodes[d.root])) {
        return false;
      }
      // Between a reduction and the root (or a later reduction of the same rows) only elementwise ops may
      // stand, so each row reads its own statistic.
      return flowsElementwiseToRoot(n, d);
    }
    return false;
  };

  for (let id = g.nodes.length - 1; id >= 0; id--) {
    const n = g.nodes[id];
    if (isBufferSource(n) || n.op.kind === "const") continue;
    const cons = consumers[id];
    const owners = new Set(cons.map((c) => owner.get(c)));
    const single = owners.size === 1 ? [...owners][0] : undefined;
    if (!options.fuse || outputs.has(id) || cons.length === 0 || single === undefined || !canJoin(n, single)) {
      startKernel(n);
      continue;
    }
    const side = operandSide(n, single);
    single.members.add(id);
    owner.set(id, single);
    if (side === "first") single.prologue.add(id);
    if (side === "other") single.operandViews.add(id);
    if (n.op.kind === "matmul") {
      if (joinsAsCore(n, single)) single.core = id;
      else single.inlined.add(id);
    }
    if (n.op.kind === "reduce" && single.core !== null) single.rowStats.push(id);
    else if (n.op.kind === "reduce") {
      single.reduces.push(id);
      single.axis = n.op.axis;
    }
  }

  if (options.fuse) absorbNormalizations(g, drafts, consumers, outputs);
  return drafts.reverse().map((d) => {
    const members = [...d.members].sort((a, b) => a - b);
    const reduces = [...d.reduces].sort((a, b) => a - b);
    const core = d.core;
    const kind: KernelKind =
      core !== null ? (g.nodes[core].op.kind === "attention" ? "attention" : "matmul") : reduces.length > 0 ? "row" : "pointwise";
    return {
      kind,
      root: d.root,
      members,
      core,
      reduces,
      rowStats: [...d.rowStats].sort((a, b) => a - b),
      axis: d.axis,
      inlined: [...d.inlined].sort((a, b) => a - b),
    };
  });
}
