import type { Graph, Node } from "../../core/graph.ts";

/** The [K, N] buffer that a matmul's B [N, K] is a transposed view of (a weight stored transposed at load time), when N is a multiple of 4. */
export function transposedWeightOf(g: Graph, core: Node): number | null {
  if (core.op.kind !== "matmul" || !core.op.storedKN) return null;
  const t = g.nodes[g.nodes[core.inputs[1]].inputs[0]];
  // Marked before the preparation split: a copy still computed in the preparation graph is not a buffer to load yet.
  return t.op.kind === "param" || t.op.kind === "input" ? t.id : null;
}
