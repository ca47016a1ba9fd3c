import { shapeToString, type DimEnv } from "../../core/dims.ts";
import { TesseraeError } from "../../core/errors.ts";
import type { Plan } from "../../core/plan.ts";
import type { PlanBuffers } from "./buffers.ts";
import { encodeKernels, type PreparedKernel } from "./encode.ts";

/** A value an f16 plan stored was beyond f16's range (±65504): the run's outputs would not be finite. */
export class F16OverflowError extends TesseraeError {}

/** Reads a u32 flag buffer's value once the queue has done what was submitted before. */
async function readFlags(device: GPUDevice, source: GPUBuffer, count: number, encoder: GPUCommandEncoder): Promise<Uint32Array> {
  const rb = device.createBuffer({ size: 4 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(source, 0, rb, 0, 4 * count);
  device.queue.submit([encoder.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const flags = new Uint32Array(rb.getMappedRange().slice(0));
  rb.unmap();
  rb.destroy();
  return flags;
}

/** Whether the run just submitted set the overflow flag (which `clearOverflow` reset before it). */
export async function overflowed(device: GPUDevice, buffers: PlanBuffers): Promise<boolean> {
  if (!buffers.overflow) return false;
  return (await readFlags(device, buffers.overflow, 1, device.createCommandEncoder()))[0] !== 0;
}

export function clearOverflow(buffers: PlanBuffers, encoder: GPUCommandEncoder): void {
  if (buffers.overflow) encoder.clearBuffer(buffers.overflow);
}

/**
 * Runs the kernels again, reading the flag after each, and names the first that stored a value beyond
 * f16's range: its kernel, the tensor it writes (with the graph file's line) and what to do.
 */
export async function overflowError(
  device: GPUDevice,
  plan: Plan,
  kernels: readonly PreparedKernel[],
  buffers: PlanBuffers,
  env: DimEnv,
): Promise<F16OverflowError> {
  const overflow = buffers.overflow as GPUBuffer;
  const trace = device.createBuffer({ size: 4 * kernels.length, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  for (let i = 0; i < kernels.length; i++) {
    encoder.clearBuffer(overflow);
    encodeKernels(device, kernels, buffers, encoder, env, { from: i, to: i + 1 });
    encoder.copyBufferToBuffer(overflow, 0, trace, 4 * i, 4);
  }
  const flags = await readFlags(device, trace, kernels.length, encoder);
  trace.destroy();
  const first = flags.findIndex((f) => f !== 0);
  const kernel = plan.kernels[first];
  const node = kernel ? plan.graph.nodes[kernel.write] : undefined;
  // The outermost source line is the graph file's (the others are the blocks it called).
  const ref = node?.source[0];
  const where = ref ? ` made at ${ref.file}:${ref.line}:${ref.column}` : "";
  const what =
    kernel && node ? `kernel ${first} (${kernel.name}) stored tensor %${node.id} ${shapeToString(node.shape)}${where}` : "a kernel";
  return new F16OverflowError(
    `f16 overflow in ${plan.graph.name}: ${what} with values beyond f16's range (±65504); its outputs would not be finite. Run with f32 storage (--dtype f32) for this model and input`,
  );
}
