import type { Dim } from "../../core/dims.ts";
import type { Node } from "../../core/graph.ts";
import { named, type Expr } from "./expr.ts";
import type { KernelWriter } from "./writer.ts";

/** What every matmul kernel reads of its group: C[batch, M, N] = A[batch, M, K] . B[batch, N, K]^T. */
export interface MatmulOperands {
  core: Node;
  root: Node;
  a: Node;
  b: Node;
  M: Dim;
  N: Dim;
  K: Dim;
  batchShape: Dim[];
  /** The workgroup's batch coordinates (from wid.z), none for a 2-D product. */
  batch: Expr[];
  /** Coordinates of A at row m, column k (its batch axes broadcast), and of B's row n. */
  aRow: (m: Expr, k: Expr) => Expr[];
  bRow: (n: Expr, k: Expr) => Expr[];
  mDim: Expr;
  nDim: Expr;
  kDim: Expr;
}

/** The group's matmul operands and sizes; emits the batch coordinates' lines. */
export function matmulOperands(w: KernelWriter): MatmulOperands {
  const { graph: g, group } = w;
  const core = g.nodes[group.core ?? -1];
  const [a, b] = core.inputs.map((id) => g.nodes[id]);
  const r = core.shape.length;
  const [M, N] = [core.shape[r - 2], core.shape[r - 1]];
  const K = a.shape[a.shape.length - 1];
  const batchShape = core.shape.slice(0, -2);
  const batch = batchShape.length ? w.unravel(named("wid.z", "u32"), batchShape, "bt") : [];
  const rowOf =
    (x: Node) =>
    (row: Expr, k: Expr): Expr[] => [...w.broadcastCoords(x.shape.slice(0, -2), batch), row, k];
  const [mDim, nDim, kDim] = [w.dim(M), w.dim(N), w.dim(K)];
  return { core, root: g.nodes[group.root], a, b, M, N, K, batchShape, batch, aRow: rowOf(a), bRow: rowOf(b), mDim, nDim, kDim };
}
