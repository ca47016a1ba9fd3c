import { evalDim, type DimEnv } from "../../core/dims.ts";
import type { Plan } from "../../core/plan.ts";
import { fromHalf } from "../half.ts";
import { sizeOf, type HostTensor } from "../tensor.ts";
import type { PlanBuffers } from "./buffers.ts";

/** Copies of the graph's outputs into mappable buffers, encoded after the kernels; `read` maps them once submitted. */
export function encodeReadback(
  device: GPUDevice,
  plan: Plan,
  buffers: PlanBuffers,
  encoder: GPUCommandEncoder,
  env: DimEnv,
): { read(): Promise<Map<string, HostTensor>> } {
  const g = plan.graph;
  const copies = g.outputs.map((o) => {
    const shape = g.nodes[o.node].shape.map((d) => evalDim(d, env));
    // copyBufferToBuffer moves multiples of 4 bytes: an odd count of halves takes its padding along.
    const bytes = Math.ceil((sizeOf(shape) * buffers.bytesPer) / 4) * 4;
    const rb = device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    if (bytes > 0) encoder.copyBufferToBuffer(buffers.of(o.node), 0, rb, 0, bytes);
    return { name: o.name, shape, rb, bytes };
  });
  return {
    async read() {
      const result = new Map<string, HostTensor>();
      for (const c of copies) {
        await c.rb.mapAsync(GPUMapMode.READ);
        const raw = c.rb.getMappedRange(0, c.bytes).slice(0);
        const n = sizeOf(c.shape);
        result.set(c.name, {
          shape: c.shape,
          data: plan.storage === "f16" ? fromHalf(new Uint16Array(raw, 0, n)) : new Float32Array(raw, 0, n),
        });
        c.rb.unmap();
        c.rb.destroy();
      }
      return result;
    },
  };
}
