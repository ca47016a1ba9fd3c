import { dimMul, evalDim, type Dim, type DimEnv } from "../ir/dims.ts";
import type { Graph, Node } from "../ir/graph.ts";
import { numelDim } from "../codegen/writer.ts";
import type { PlanKernel } from "./plan.ts";

/** Floating-point operations of one primitive (a multiply-add counts 2), as a function of the dims. */
export function flopsOf(g: Graph, n: Node): Dim {
  switch (n.op.kind) {
    case "matmul": {
      const a = g.nodes[n.inputs[0]];
      return dimMul(2, dimMul(numelDim(n.shape), a.shape[a.shape.length - 1]));
    }
    case "attention": {
      const k = g.nodes[n.inputs[1]];
      // q k^T and p v: two multiply-adds per (query, key, channel)
      return dimMul(4, dimMul(numelDim(n.shape), k.shape[1]));
    }
    case "unary":
    case "binary":
      return numelDim(n.shape);
    case "reduce":
      return numelDim(g.nodes[n.inputs[0]].shape);
    default:
      return 0;
  }
}

export interface KernelCost {
  flops: number;
  /** Bytes read from the kernel's input buffers (each once) plus bytes written. */
  bytes: number;
}

/** FLOPs and bytes moved of each kernel at concrete dims (e.g. B = 1). */
export function kernelCost(g: Graph, k: PlanKernel, env: DimEnv): KernelCost {
  const flops = k.nodes.reduce((acc, id) => acc + evalDim(flopsOf(g, g.nodes[id]), env), 0);
  const reads = new Set(k.reads.map((r) => r.node));
  let elements = evalDim(numelDim(g.nodes[k.write].shape), env);
  for (const id of reads) elements += evalDim(numelDim(g.nodes[id].shape), env);
  return { flops, bytes: elements * 4 };
}
