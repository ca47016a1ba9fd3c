import type { Graph, Node } from "../../core/graph.ts";

/** The [K, N] buffer that a matmul's B [N, K] is a transposed view of (a weight stored transposed at load time), when N is a multiple of 4. */
export function transposedWeightOf(g: Graph, core: Node): number | null {
  if (core.op.kind !== "matmul") return null;
  const b = g.nodes[core.inputs[1]];
  if (b.op.kind !== "permute" || b.op.perm[0] !== 1 || b.shape.length !== 2) return null;
  const t = g.nodes[b.inputs[0]];
  const n = b.shape[0];
  if ((t.op.kind !== "param" && t.op.kind !== "input") || typeof n !== "number" || n % 4 !== 0) return null;
  return t.id;
}
