import type { Plan } from "../../core/plan.ts";
import { InputError } from "../../core/errors.ts";
import { checked, requireDevice, type GpuContext } from "../gpu-context.ts";
import type { HostTensor, WeightSource } from "../tensor.ts";
import { paddedBytes, PlanBuffers } from "./buffers.ts";
import { encodeKernels, prepareKernels, type PreparedKernel } from "./encode.ts";
import { bindSymbols, checkIndexInputs } from "./inputs.ts";
import { encodeReadback } from "./readback.ts";
import { KernelTimer, submitOneByOne, submitWithProgress, type Submission } from "./submit.ts";
import { clearOverflow, overflowError, overflowed } from "./overflow.ts";
import { inTurn } from "./turns.ts";
import { prepareWeights, uploadWeights } from "./weights.ts";

export interface RunOptions {
  profile?: boolean;
  /** Called with the fraction of the run's FLOPs done (0..1], after each of about `PROGRESS_STEPS` submissions. */
  onProgress?: (fraction: number) => void;
  /**
   * Wall time of each kernel where the adapter has no timestamp queries (a browser's SwiftShader): every
   * kernel is submitted alone and waited for, so the times include a submission each.
   */
  kernelWallTimes?: boolean;
}

export interface RunResult {
  outputs: Map<string, HostTensor>;
  /** Wall time from submit to results on the host. */
  ms: number;
  /** GPU time of each kernel, in plan order (only when profiled). */
  kernelMs?: number[];
}

/** A plan loaded onto a device with its weights: run it on inputs as often as you like. */
export class Executor {
  private kernels: PreparedKernel[] = [];
  private readonly buffers: PlanBuffers;
  private disposed = false;

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: Plan,
  ) {
    if (plan.storage === "f16" && !ctx.device.features.has("shader-f16"))
      throw new InputError("this plan stores f16 but the adapter has no shader-f16; compile it with f32 storage");
    this.buffers = new PlanBuffers(ctx.device, plan);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  static async load(ctx: GpuContext, plan: Plan, weights: WeightSource): Promise<Executor> {
    return inTurn(ctx.device, async () => {
      const ex = new Executor(ctx, plan);
      const derived = plan.prepare ? await prepareWeights(ctx, plan.prepare, weights) : new Map<string, GPUBuffer>();
      await uploadWeights(ctx.device, plan, ex.buffers, weights, derived);
      ex.kernels = await prepareKernels(ctx.device, plan);
      return ex;
    });
  }

  /** Checks the inputs against the graph and binds its symbolic dims from their shapes. */
  private bind(inputs: ReadonlyMap<string, HostTensor>): Record<string, number> {
    const g = this.plan.graph;
    const env: Record<string, number> = {};
    for (const inp of g.inputs) {
      const t = inputs.get(inp.name);
      if (!t) throw new InputError(`input '${inp.name}' is missing`);
      bindSymbols(g.nodes[inp.node], inp.name, t.shape, env);
    }
    for (const name of inputs.keys()) if (!g.inputs.some((i) => i.name === name)) throw new InputError(`the graph has no input '${name}'`);
    checkIndexInputs(this.plan, inputs, env);
    return env;
  }

  private writeInputs(inputs: ReadonlyMap<string, HostTensor>): void {
    const g = this.plan.graph;
    for (const inp of g.inputs) {
      const t = inputs.get(inp.name) as HostTensor;
      const isIndex = g.nodes[inp.node].dtype === "i32";
      const bytes = paddedBytes(t.data.length, isIndex ? 4 : this.buffers.bytesPer);
      this.buffers.checkBindable(bytes, `input '${inp.name}'`);
      this.device.queue.writeBuffer(
        this.buffers.input(inp.node, bytes),
        0,
        isIndex ? Int32Array.from(t.data) : this.buffers.encode(t.data),
      );
    }
  }

  /**
   * Runs the plan; with `profile`, also measures each kernel's GPU time with timestamp queries. With
   * `onProgress`, the kernels go to the queue in about `PROGRESS_STEPS` submissions of equal FLOPs, and
   * the callback hears the fraction of the work done after each (a long run shows where it is). Runs on
   * one device take turns (`inTurn`); inputs are checked at once, so a bad request fails without waiting.
   */
  async run(
    inputs: ReadonlyMap<string, HostTensor>,
    { profile = false, onProgress, kernelWallTimes = false }: RunOptions = {},
  ): Promise<RunResult> {
    if (this.disposed) throw new Error("executor was disposed");
    requireDevice(this.ctx, `running ${this.plan.graph.name}`);
    const env = this.bind(inputs);
    return inTurn(this.device, () => this.runNow(inputs, env, { profile, onProgress, kernelWallTimes }));
  }

  private async runNow(
    inputs: ReadonlyMap<string, HostTensor>,
    env: Record<string, number>,
    { profile, onProgress, kernelWallTimes }: RunOptions,
  ): Promise<RunResult> {
    if (this.disposed) throw new Error("executor was disposed");
    const g = this.plan.graph;
    requireDevice(this.ctx, `running ${g.name}`);
    const started = performance.now();
    let kernelMs: number[] | undefined;
    const outputs = await checked(this.device, `running ${g.name}`, async () => {
      this.writeInputs(inputs);
      const s: Submission = { device: this.device, plan: this.plan, kernels: this.kernels, buffers: this.buffers, env };
      let encoder = this.device.createCommandEncoder();
      clearOverflow(this.buffers, encoder);
      const timer = profile ? new KernelTimer(this.device, this.kernels.length) : null;
      if (timer) timer.encode(s, encoder);
      else if (kernelWallTimes) ({ encoder, kernelMs } = await submitOneByOne(s, encoder));
      else if (onProgress) encoder = await submitWithProgress(s, encoder, onProgress);
      else encodeKernels(this.device, this.kernels, this.buffers, encoder, env);
      const readback = encodeReadback(this.device, this.plan, this.buffers, encoder, env);
      this.device.queue.submit([encoder.finish()]);
      if (timer) kernelMs = await timer.read();
      const read = await readback.read();
      if (await overflowed(this.device, this.buffers)) throw await overflowError(this.device, this.plan, this.kernels, this.buffers, env);
      return read;
    });
    requireDevice(this.ctx, `reading the results of ${g.name}`);
    if (this.ctx.uncaptured.length > 0)
      throw new Error(`WebGPU error while running ${g.name}: ${this.ctx.uncaptured.splice(0).join("; ")}`);
    return { outputs, ms: performance.now() - started, kernelMs };
  }

  dispose(): void {
    this.disposed = true;
    this.buffers.dispose();
    for (const k of this.kernels) k.uniform.destroy();
  }
}
