import type { Node } from "../../core/graph.ts";
import type { KernelKind } from "../../core/plan.ts";

/** A kernel while fusion grows it, from its root back towards the graph's inputs. */
export interface Draft {
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
  /** Rows of the root in front of the core's rows (see KernelGroup.prefixRows). */
  prefixRows: number;
}

/** The fusion rules' decisions while the kernels are grown: the rule that joined each node, or why it roots a kernel. */
export class Decisions {
  readonly joined = new Map<number, string>();
  readonly apart = new Map<number, string>();
}

export function startDraft(n: Node): Draft {
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
    prefixRows: 0,
  };
  if (n.op.kind === "matmul" || n.op.kind === "attention") d.core = n.id;
  if (n.op.kind === "reduce") {
    d.reduces.push(n.id);
    d.axis = n.op.axis;
  }
  return d;
}

export function draftKind(d: Draft, coreKind: string | null): KernelKind {
  if (d.core !== null) return coreKind === "attention" ? "attention" : "matmul";
  return d.reduces.length > 0 ? "row" : "pointwise";
}
