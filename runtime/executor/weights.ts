import { F16OverflowError } from "./overflow.ts";
import { evalDim } from "../../core/dims.ts";
import { InputError } from "../../core/errors.ts";
import type { Node } from "../../core/graph.ts";
import type { Plan } from "../../core/plan.ts";
import { checked, type GpuContext } from "../gpu-context.ts";
import { rowsOf, sizeOf, type WeightSource } from "../tensor.ts";
import { paddedBytes, PlanBuffers } from "./buffers.ts";
import { encodeKernels, prepareKernels } from "./encode.ts";

/** Bytes of checkpoint tensors uploaded between queue drains while preparing weights (bounds Dawn's staging). */
const PREPARE_FLUSH_BYTES = 256 * 2 ** 20;

/** One checkpoint tensor (or its rows) into a buffer of its own; returns the bytes written. */
export function uploadParam(device: GPUDevice, buffers: PlanBuffers, n: Node, weights: WeightSource): number {
  if (n.op.kind !== "param") throw new Error(`internal: %${n.id} is not a parameter`);
  const full = weights.get(n.op.name);
  if (!full) throw new InputError(`weight '${n.op.name}' is missing`);
  const rows = n.op.rows;
  const name = rows ? `${n.op.name}[${rows[0]}:${rows[1]}]` : n.op.name;
  if (rows && (full.shape.length === 0 || full.shape[0] < rows[1]))
    throw new InputError(`weight '${n.op.name}' has shape [${full.shape.join(", ")}], too few rows for ${name}`);
  const data = rows ? rowsOf(full, rows) : full.data;
  const expected = n.shape.map((d) => evalDim(d, {}));
  if (data.length !== sizeOf(expected))
    throw new InputError(`weight '${name}' has shape [${full.shape.join(", ")}], the graph expects [${expected.join(", ")}]`);
  const bytes = paddedBytes(data.length, buffers.bytesPer);
  buffers.checkBindable(bytes, `weight '${name}'`);
  if (buffers.bytesPer === 2) {
    const big = data.findIndex((v) => Math.abs(v) > 65504);
    if (big >= 0)
      throw new F16OverflowError(
        `weight '${name}' holds ${data[big]} (element ${big}), beyond f16's range (±65504): it cannot be stored in f16; use f32 storage (--dtype f32)`,
      );
  }
  const buf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: name });
  device.queue.writeBuffer(buf, 0, buffers.encode(data));
  buffers.weights.set(n.id, buf);
  return bytes;
}

/** Every parameter of the plan: a derived weight's buffer when the preparation made one, else the checkpoint's tensor. */
export async function uploadWeights(
  device: GPUDevice,
  plan: Plan,
  buffers: PlanBuffers,
  weights: WeightSource,
  derived: ReadonlyMap<string, GPUBuffer>,
): Promise<void> {
  await checked(device, "weight upload", () => {
    for (const n of plan.graph.nodes) {
      if (n.op.kind !== "param") continue;
      const prepared = derived.get(n.op.name);
      if (prepared) buffers.weights.set(n.id, prepared);
      else uploadParam(device, buffers, n, weights);
    }
  });
}

/**
 * Runs a weight-preparation plan on the device and keeps its outputs there, as weight buffers of
 * their own. Kernel by kernel: a checkpoint tensor is uploaded just before the first kernel that
 * reads it and freed after the last, and every `PREPARE_FLUSH_BYTES` of uploads the queue is drained,
 * so the device holds the prepared weights plus a few originals, not both sets whole.
 */
export async function prepareWeights(ctx: GpuContext, plan: Plan, weights: WeightSource): Promise<Map<string, GPUBuffer>> {
  const device = ctx.device;
  const buffers = new PlanBuffers(device, plan);
  const out = new Map<string, GPUBuffer>();
  let kernels: Awaited<ReturnType<typeof prepareKernels>> = [];
  try {
    kernels = await prepareKernels(device, plan);
    for (const o of plan.graph.outputs) {
      const size = paddedBytes(sizeOf(plan.graph.nodes[o.node].shape.map((d) => evalDim(d, {}))), buffers.bytesPer);
      const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: o.name });
      buffers.handedOver.set(o.node, buf);
      out.set(o.name, buf);
    }
    const lastRead = new Map<number, number>();
    plan.kernels.forEach((k, i) => k.reads.forEach((r) => lastRead.set(r.node, i)));
    await checked(device, "weight preparation", async () => {
      buffers.ensureSlots({});
      let pending = 0;
      for (let i = 0; i < kernels.length; i++) {
        for (const r of kernels[i].kernel.reads) {
          const n = plan.graph.nodes[r.node];
          if (n.op.kind === "param" && !buffers.weights.has(n.id)) pending += uploadParam(device, buffers, n, weights);
        }
        const encoder = device.createCommandEncoder();
        encodeKernels(device, kernels, buffers, encoder, {}, { from: i, to: i + 1 });
        device.queue.submit([encoder.finish()]);
        for (const r of kernels[i].kernel.reads) if (lastRead.get(r.node) === i && buffers.weights.has(r.node)) buffers.dropWeight(r.node);
        if (pending > PREPARE_FLUSH_BYTES) {
          await device.queue.onSubmittedWorkDone();
          buffers.forgetBindGroups();
          pending = 0;
        }
      }
      await device.queue.onSubmittedWorkDone();
    });
    return out;
  } catch (e) {
    for (const b of out.values()) b.destroy();
    throw e;
  } finally {
    buffers.dispose();
    for (const k of kernels) k.uniform.destroy();
  }
}
