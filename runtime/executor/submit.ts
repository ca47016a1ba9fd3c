// The ways a run's kernels go to the queue: all at once, timed by timestamp queries, one by one with
// wall times, or in chunks of equal FLOPs with progress reports.
import type { DimEnv } from "../../core/dims.ts";
import { kernelCost } from "../../core/cost.ts";
import { InputError } from "../../core/errors.ts";
import type { Plan } from "../../core/plan.ts";
import type { PlanBuffers } from "./buffers.ts";
import { encodeKernels, type PreparedKernel } from "./encode.ts";

/** How many submissions a run with progress reports is cut into. */
export const PROGRESS_STEPS = 40;

export interface Submission {
  device: GPUDevice;
  plan: Plan;
  kernels: readonly PreparedKernel[];
  buffers: PlanBuffers;
  env: DimEnv;
}

/** Timestamp queries around each kernel's pass, resolved into a buffer the host maps after the run. */
export class KernelTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: GPUBuffer;

  constructor(
    private readonly device: GPUDevice,
    private readonly count: number,
  ) {
    if (!device.features.has("timestamp-query"))
      throw new InputError("this adapter has no timestamp-query feature, so per-kernel times cannot be measured");
    this.querySet = device.createQuerySet({ type: "timestamp", count: 2 * count });
    this.resolve = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Encodes every kernel, each in a pass of its own between two timestamps, and the copy of the timestamps. */
  encode(s: Submission, encoder: GPUCommandEncoder): void {
    encodeKernels(s.device, s.kernels, s.buffers, encoder, s.env, { timestamps: this.querySet });
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.count, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16 * this.count);
  }

  /** Each kernel's GPU time in ms, once the submission that encoded them is done; frees the queries. */
  async read(): Promise<number[]> {
    await this.readback.mapAsync(GPUMapMode.READ);
    const ns = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    for (const b of [this.querySet, this.resolve, this.readback]) b.destroy();
    return Array.from({ length: this.count }, (_, i) => Number(ns[2 * i + 1] - ns[2 * i]) / 1e6);
  }
}

/**
 * Each kernel submitted alone and waited for (adapters without timestamp queries, such as a browser's
 * SwiftShader): wall times that include a submission each. Returns them and a fresh encoder.
 */
export async function submitOneByOne(s: Submission, first: GPUCommandEncoder): Promise<{ encoder: GPUCommandEncoder; kernelMs: number[] }> {
  const kernelMs: number[] = [];
  let encoder = first;
  for (let i = 0; i < s.kernels.length; i++) {
    const t0 = performance.now();
    encodeKernels(s.device, s.kernels, s.buffers, encoder, s.env, { from: i, to: i + 1 });
    s.device.queue.submit([encoder.finish()]);
    await s.device.queue.onSubmittedWorkDone();
    kernelMs.push(performance.now() - t0);
    encoder = s.device.createCommandEncoder();
  }
  return { encoder, kernelMs };
}

/** The kernels in chunks of about equal FLOPs, each submitted and waited for; returns a fresh encoder for what follows. */
export async function submitWithProgress(
  s: Submission,
  first: GPUCommandEncoder,
  onProgress: (fraction: number) => void,
): Promise<GPUCommandEncoder> {
  const flops = s.kernels.map((p) => kernelCost(s.plan.graph, p.kernel, s.env).flops + 1);
  const total = flops.reduce((a, b) => a + b, 0);
  let encoder = first;
  let start = 0;
  let done = 0;
  let mark = total / PROGRESS_STEPS;
  for (let i = 0; i < s.kernels.length; i++) {
    done += flops[i];
    if (done < mark && i < s.kernels.length - 1) continue;
    mark = (total * (Math.floor((done * PROGRESS_STEPS) / total) + 1)) / PROGRESS_STEPS;
    encodeKernels(s.device, s.kernels, s.buffers, encoder, s.env, { from: start, to: i + 1 });
    s.device.queue.submit([encoder.finish()]);
    await s.device.queue.onSubmittedWorkDone();
    onProgress(done / total);
    encoder = s.device.createCommandEncoder();
    start = i + 1;
  }
  return encoder;
}
