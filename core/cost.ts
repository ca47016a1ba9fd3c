import { dimMul, evalDim, numel, type Dim, type DimEnv } from "./dims.ts";
import type { Graph, Node } from "./graph.ts";
import type { PlanKernel, StorageType } from "./plan.ts";

/** Floating-point operations of one primitive (a multiply-add counts 2), as a function of the dims. */
export function flopsOf(g: Graph, n: Node): Dim {
  switch (n.op.kind) {
    case "matmul": {
      const a = g.nodes[n.inputs[0]];
      return dimMul(2, dimMul(numel(n.shape), a.shape[a.shape.length - 1]));
    }
    case "attention": {
      const k = g.nodes[n.inputs[1]];
      // q k^T and p v: two multiply-adds per (query, key, channel)
      return dimMul(4, dimMul(numel(n.shape), k.shape[1]));
    }
    case "unary":
    case "binary":
      return numel(n.shape);
    case "reduce":
      return numel(g.nodes[n.inputs[0]].shape);
    default:
      return 0;
  }
}

export interface KernelCost {
  flops: number;
  /** Bytes read from the kernel's input buffers (each once) plus bytes written. */
  bytes: number;
}

/**
 * FLOPs and bytes moved of each kernel at concrete dims (e.g. B = 1), its buffers holding `storage`
 * elements (integer tensors stay 4 bytes).
 */
export function kernelCost(g: Graph, k: PlanKernel, env: DimEnv, storage: StorageType = "f32"): KernelCost {
  const flops = k.nodes.reduce((acc, id) => acc + evalDim(flopsOf(g, g.nodes[id]), env), 0);
  const bytesOf = (id: number): number =>
    evalDim(numel(g.nodes[id].shape), env) * (g.nodes[id].dtype === "i32" || storage === "f32" ? 4 : 2);
  const reads = new Set(k.reads.map((r) => r.node));
  let bytes = bytesOf(k.write);
  for (const id of reads) bytes += bytesOf(id);
  return { flops, bytes };
}
