import type { Graph, Node } from "../../core/graph.ts";
import { parameterOnly } from "./fold-norms.ts";

/** Whether a matmul's B is a transposed view of a [K, N] tensor (N a multiple of 4) that will be a buffer of its own. */
function readsStoredKN(g: Graph, n: Node, fixed: readonly boolean[]): boolean {
  const b = g.nodes[n.inputs[1]];
  if (b.op.kind !== "permute" || b.op.perm[0] !== 1 || b.shape.length !== 2) return false;
  const columns = b.shape[0];
  const stored = g.nodes[b.inputs[0]];
  // A contiguous copy of parameters (transpose-weights') becomes a derived weight when the preparation is split off.
  const buffer = stored.op.kind === "param" || stored.op.kind === "input" || (stored.op.kind === "contiguous" && fixed[stored.id]);
  return typeof columns === "number" && columns % 4 === 0 && buffer;
}

/**
 * Marks the matmuls whose weights are stored [K, N] (those transpose-weights made, and any the graph
 * reads that way itself), so codegen and the tuner read the mark instead of recognising the pattern.
 */
export function markStoredWeights(g: Graph): Graph {
  const fixed = parameterOnly(g);
  return {
    ...g,
    nodes: g.nodes.map((n) => (n.op.kind === "matmul" && readsStoredKN(g, n, fixed) ? { ...n, op: { ...n.op, storedKN: true } } : n)),
  };
}
