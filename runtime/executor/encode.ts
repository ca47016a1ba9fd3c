import { evalDim, type DimEnv } from "../../core/dims.ts";
import type { Plan, PlanKernel } from "../../core/plan.ts";
import type { PlanBuffers } from "./buffers.ts";
import { workgroups } from "./dispatch.ts";
import { pipelineFor } from "./pipelines.ts";

/** A kernel with its pipeline and the uniform buffer its dims are written to before each dispatch. */
export interface PreparedKernel {
  kernel: PlanKernel;
  pipeline: GPUComputePipeline;
  uniform: GPUBuffer;
}

export function prepareKernels(device: GPUDevice, plan: Plan): Promise<PreparedKernel[]> {
  return Promise.all(
    plan.kernels.map(async (kernel) => ({
      kernel,
      pipeline: await pipelineFor(device, kernel.wgsl, kernel.name, kernel.reads.length, kernel.checksRange === true),
      uniform: device.createBuffer({
        size: Math.max(16, Math.ceil(kernel.uniforms.length / 4) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: `${kernel.name} dims`,
      }),
    })),
  );
}

/** Kernels `from`..`to` into `encoder`: one pass for all of them, or with timestamps, one pass per kernel. */
export function encodeKernels(
  device: GPUDevice,
  kernels: readonly PreparedKernel[],
  buffers: PlanBuffers,
  encoder: GPUCommandEncoder,
  env: DimEnv,
  { timestamps = null, from = 0, to = kernels.length }: { timestamps?: GPUQuerySet | null; from?: number; to?: number } = {},
): void {
  buffers.ensureSlots(env);
  const pass = timestamps ? null : encoder.beginComputePass();
  for (let i = from; i < to; i++) {
    const p = kernels[i];
    const values = new Uint32Array(Math.max(4, Math.ceil(p.kernel.uniforms.length / 4) * 4));
    p.kernel.uniforms.forEach((d, j) => (values[j] = evalDim(d, env)));
    device.queue.writeBuffer(p.uniform, 0, values);
    const kpass =
      pass ??
      encoder.beginComputePass(
        timestamps ? { timestampWrites: { querySet: timestamps, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {},
      );
    kpass.setPipeline(p.pipeline);
    kpass.setBindGroup(0, buffers.bindGroup(p.kernel, p.pipeline, p.uniform));
    const [x, y, z] = workgroups(p.kernel.dispatch, env, p.kernel.name);
    if (x > 0 && y > 0 && z > 0) kpass.dispatchWorkgroups(x, y, z);
    if (!pass) kpass.end();
  }
  pass?.end();
}
