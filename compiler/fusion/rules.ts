import type { Node } from "../../core/graph.ts";
import type { FusionClass } from "./classes.ts";
import type { Draft } from "./draft.ts";
import { cheapOnLoad, type FusionFacts, type OperandSide } from "./facts.ts";

/**
 * Where a node goes in the kernel it joins: on the loads of the core's operand (`on-load`, the matmul's
 * prologue for its first operand), anywhere else computed in place (`member`), or in one of the kernel's
 * special places: its core, a dot-product loop inside it, a statistic of the matmul's rows, or a row reduction.
 */
export type Role = "on-load" | "member" | "core" | "inlined" | "row-statistic" | "reduction";

export interface FusionRule {
  name: string;
  /** What the rule joins, in one sentence (`explain --why` and docs/FUSION.md show it). */
  summary: string;
  /** The op classes the rule considers. */
  classes: readonly FusionClass[];
  /** `operand`: for nodes that feed an operand of the kernel's core; `result`: for nodes that do not. */
  feeds: "operand" | "result";
  role: Role;
  accepts(n: Node, d: Draft, facts: FusionFacts, side: OperandSide | null): boolean;
}

/**
 * A node joins the kernel of its consumers (when they all belong to one) by the first rule here that
 * accepts it; a node no rule accepts is written to a buffer and roots a kernel of its own. Order matters
 * only where two rules take the same class: a contraction is a core before it is a loop.
 */
export const JOIN_RULES: readonly FusionRule[] = [
  {
    name: "view-on-load",
    summary: "a view of a core's operand folds into the core's loads of it",
    classes: ["view"],
    feeds: "operand",
    role: "on-load",
    accepts: (n, d, f, side) => side !== null && f.usedOnlyOnLoad(n, d, side),
  },
  {
    name: "math-on-query-load",
    summary: "cheap elementwise math on attention's queries (a rotary embedding) is recomputed on every load",
    classes: ["elementwise"],
    feeds: "operand",
    role: "on-load",
    accepts: (n, d, f, side) =>
      side !== null &&
      f.isAttentionCore(d) &&
      cheapOnLoad(n) &&
      !f.continuesMatmul(n) &&
      !f.feedsKeysOrValues(n, d) &&
      f.usedOnlyOnLoad(n, d, side),
  },
  {
    name: "row-shift-on-load",
    summary: "x - x[..., :1] on a matmul's A (a LayerNorm folded past it) is recomputed on each load of a row",
    classes: ["elementwise"],
    feeds: "operand",
    role: "on-load",
    accepts: (n, d, f, side) => side === "first" && f.isRowShift(n) && f.usedOnlyOnLoad(n, d, side),
  },
  {
    name: "view",
    summary: "a view of a value computed in the kernel is an index transformation, not a copy",
    classes: ["view"],
    feeds: "result",
    role: "member",
    accepts: () => true,
  },
  {
    name: "elementwise",
    summary: "elementwise math joins the kernel that uses it (after a matmul or attention: its epilogue)",
    classes: ["elementwise"],
    feeds: "result",
    role: "member",
    accepts: () => true,
  },
  {
    name: "contraction-core",
    summary: "a matmul becomes the core of the elementwise kernel of its result's shape that consumes it",
    classes: ["contraction"],
    feeds: "result",
    role: "core",
    accepts: (n, d, f) => f.joinsAsCore(n, d),
  },
  {
    name: "inline-contraction",
    summary: "a small-K matmul rearranged before the output (a patch embedding under a concat) is a dot-product loop in its consumer",
    classes: ["contraction"],
    feeds: "result",
    role: "inlined",
    accepts: (n, d, f) => f.canInline(n, d),
  },
  {
    name: "row-statistic",
    summary: "a sum over the rows of a matmul's A is accumulated by the matmul's main loop for its epilogue",
    classes: ["reduction"],
    feeds: "result",
    role: "row-statistic",
    accepts: (n, d, f) => f.isRowStatistic(n, d),
  },
  {
    name: "row-reduction",
    summary: "reductions over the same rows, read back only through elementwise math, share one row kernel",
    classes: ["reduction"],
    feeds: "result",
    role: "reduction",
    accepts: (n, d, f) => d.core === null && f.reducesSameRows(n, d),
  },
];

/** Rules that merge whole kernels after the walk, in order. */
export const MERGE_RULES = [
  {
    name: "normalization-prologue",
    summary: "a row kernel (a normalisation) read only by a matmul's A, through cheap math, becomes that matmul's prologue",
  },
  {
    name: "prefix-rows-epilogue",
    summary:
      "rows concatenated in front of a matmul's result (a class token) and elementwise math after (a position table) become its epilogue",
  },
] as const;

export function rulesFor(cls: FusionClass, feedsOperand: boolean): FusionRule[] {
  return JOIN_RULES.filter((r) => r.classes.includes(cls) && (r.feeds === "operand") === feedsOperand);
}
