import type { Graph, Node } from "../../core/graph.ts";
import type { KernelFusion, KernelKind } from "../../core/plan.ts";
import { fusionClass } from "./classes.ts";
import { Decisions, draftKind, startDraft, type Draft } from "./draft.ts";
import { absorbPrefixRows } from "./prefix-rows.ts";
import { FusionFacts, type OperandSide, sameShape, viewsWholeRows } from "./facts.ts";
import { MERGE_RULES, rulesFor, type FusionRule } from "./rules.ts";

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
  /**
   * Rows of the root in front of the core's rows along the row axis (a class token concatenated before
   * a patch embedding): the core's row m is the root's row m + prefixRows, and the invocations that
   * compute the core's row 0 also write the rows in front.
   */
  prefixRows: number;
  /** Which rule joined each member, and why the root stands apart. */
  fusion: KernelFusion;
}

export interface FusionOptions {
  /** One primitive per kernel: the unfused baseline for comparisons and debugging. */
  fuse: boolean;
}

/** Nodes that live in buffers of their own: inputs and checkpoint parameters. */
export function isBufferSource(n: Node): boolean {
  return n.op.kind === "input" || n.op.kind === "param";
}

function join(d: Draft, n: Node, rule: FusionRule, side: OperandSide | null, decisions: Decisions): void {
  d.members.add(n.id);
  decisions.joined.set(n.id, rule.name);
  if (rule.role === "on-load") (side === "first" ? d.prologue : d.operandViews).add(n.id);
  else if (rule.role === "core") d.core = n.id;
  else if (rule.role === "inlined") d.inlined.add(n.id);
  else if (rule.role === "row-statistic") d.rowStats.push(n.id);
  else if (rule.role === "reduction" && n.op.kind === "reduce") {
    d.reduces.push(n.id);
    d.axis = n.op.axis;
  }
}

/** Why `n` cannot join `d`, naming the rules for its class that were tried. */
function noRule(n: Node, d: Draft, facts: FusionFacts, tried: readonly FusionRule[], side: OperandSide | null): string {
  const where = side === null ? "" : ` feeding an operand of its ${facts.node(d.core ?? d.root).op.kind}`;
  const kind = draftKind(d, d.core === null ? null : facts.node(d.core).op.kind);
  const names = tried.map((r) => r.name).join(", ");
  return `${fusionClass(n)} op${where}: no rule joins it to the ${kind} kernel of %${d.root}${names ? ` (${names} did not apply)` : ""}`;
}

/**
 * MERGE_RULES' normalization-prologue: a normalisation (a row kernel) whose only consumer is a matmul's A
 * operand becomes that matmul's prologue: each tile computes the statistics of the rows it reads, and the
 * normalised values are never written to memory. Normalisations that feed a linear layer directly are
 * folded past the matmul before fusion (foldNormsIntoLinears); this takes the others, such as Qwen2-VL's
 * merger, which normalises each patch and then merges 2x2 patches into one row. Only cheap elementwise
 * math joins, since it is recomputed on every load.
 */
function absorbNormalizations(facts: FusionFacts, drafts: Draft[], decisions: Decisions): void {
  const g = facts.g;
  const byRoot = new Map(drafts.map((d) => [d.root, d]));
  for (const d of drafts) {
    if (d.core === null || g.nodes[d.core].op.kind !== "matmul" || d.rowStats.length > 0) continue;
    const a = g.nodes[g.nodes[d.core].inputs[0]];
    const rootId = a.op.kind === "reshape" && d.prologue.has(a.id) ? a.inputs[0] : a.id;
    const row = byRoot.get(rootId);
    if (!row || row.core !== null || row.inlined.size > 0 || row.reduces.length === 0 || facts.outputs.has(rootId)) continue;
    const root = g.nodes[rootId];
    const rowInput = g.nodes[g.nodes[row.reduces[0]].inputs[0]];
    if (row.axis !== rowInput.shape.length - 1 || !sameShape(rowInput, root) || !viewsWholeRows(a, root)) continue;
    if (!facts.consumers[rootId].every((c) => c === a.id) || g.nodes[d.core].inputs[1] === a.id) continue;
    if (!facts.cheapToRecompute(row.members)) continue;
    for (const m of row.members) {
      d.members.add(m);
      d.prologue.add(m);
    }
    d.reduces.push(...row.reduces);
    drafts.splice(drafts.indexOf(row), 1);
    byRoot.delete(rootId);
    decisions.apart.delete(rootId);
    decisions.joined.set(rootId, MERGE_RULES[0].name);
  }
}

/**
 * Partitions a graph into kernels, walking from the outputs back to the inputs: a node joins the kernel of
 * its consumers when they all belong to one kernel and a rule of JOIN_RULES accepts it there; otherwise it
 * is written to a buffer and becomes the root of a kernel of its own. MERGE_RULES then merge whole kernels.
 */
export function groupKernels(g: Graph, options: FusionOptions): KernelGroup[] {
  const facts = new FusionFacts(g);
  const owner = new Map<number, Draft>();
  const drafts: Draft[] = [];
  const decisions = new Decisions();

  const startKernel = (n: Node, why: string): void => {
    const d = startDraft(n);
    owner.set(n.id, d);
    drafts.push(d);
    decisions.apart.set(n.id, why);
  };

  for (let id = g.nodes.length - 1; id >= 0; id--) {
    const n = g.nodes[id];
    if (isBufferSource(n) || n.op.kind === "const") continue;
    const cons = facts.consumers[id];
    const owners = new Set(cons.map((c) => owner.get(c)));
    const single = owners.size === 1 ? [...owners][0] : undefined;
    if (!options.fuse) startKernel(n, "unfused compile");
    else if (facts.outputs.has(id)) startKernel(n, "a graph output");
    else if (cons.length === 0) startKernel(n, "no consumers");
    else if (single === undefined) startKernel(n, `read by ${owners.size} kernels`);
    else {
      const side = facts.operandSide(n, single);
      const tried = rulesFor(fusionClass(n), side !== null);
      const rule = tried.find((r) => r.accepts(n, single, facts, side));
      if (rule) {
        join(single, n, rule, side, decisions);
        owner.set(id, single);
      } else startKernel(n, noRule(n, single, facts, tried, side));
    }
  }

  if (options.fuse) {
    absorbNormalizations(facts, drafts, decisions);
    absorbPrefixRows(facts, drafts, decisions);
  }
  return drafts.reverse().map((d) => {
    const members = [...d.members].sort((a, b) => a - b);
    return {
      kind: draftKind(d, d.core === null ? null : g.nodes[d.core].op.kind),
      root: d.root,
      members,
      core: d.core,
      reduces: [...d.reduces].sort((a, b) => a - b),
      rowStats: [...d.rowStats].sort((a, b) => a - b),
      axis: d.axis,
      inlined: [...d.inlined].sort((a, b) => a - b),
      prefixRows: d.prefixRows,
      fusion: {
        apart: decisions.apart.get(d.root) ?? "",
        joined: members.filter((m) => m !== d.root).map((m) => ({ node: m, rule: decisions.joined.get(m) ?? "" })),
      },
    };
  });
}
