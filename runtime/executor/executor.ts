import { evalDim, shapeToString, type DimEnv } from "../../core/dims.ts";
import type { Node } from "../../core/graph.ts";
import type { Plan, PlanKernel } from "../../core/plan.ts";
import { kernelCost } from "../../core/cost.ts";
import { checked, requireDevice, type GpuContext } from "../gpu-context.ts";
import { fromHalf, toHalf } from "../half.ts";
import { rowsOf, sizeOf, type HostTensor, type WeightSource } from "../tensor.ts";

import { InputError } from "../../core/errors.ts";
import { workgroups } from "./dispatch.ts";
import { bindSymbols, checkIndexInputs } from "./inputs.ts";
import { pipelineFor } from "./pipelines.ts";

/** Bytes of checkpoint tensors uploaded between queue drains while preparing weights (bounds Dawn's staging). */
const PREPARE_FLUSH_BYTES = 256 * 2 ** 20;

/** How many submissions a run with progress reports is cut into. */
const PROGRESS_STEPS = 40;

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

interface PreparedKernel {
  kernel: PlanKernel;
  pipeline: GPUComputePipeline;
  uniform: GPUBuffer;
}

function paddedBytes(elements: number, bytesPer = 4): number {
  return Math.max(16, Math.ceil((elements * bytesPer) / 16) * 16);
}

/** A plan loaded onto a device with its weights: run it on inputs as often as you like. */
export class Executor {
  private readonly weightBuffers = new Map<number, GPUBuffer>();
  private prepared: PreparedKernel[] = [];
  private slotBuffers: GPUBuffer[] = [];
  private slotBytes: number[] = [];
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly inputBuffers = new Map<number, GPUBuffer>();
  /** Buffers the executor writes but does not own: a preparation plan's outputs, handed over as weights. */
  private readonly ownBuffers = new Map<number, GPUBuffer>();
  private disposed = false;

  private readonly bytesPer: number;

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: Plan,
  ) {
    this.bytesPer = plan.storage === "f16" ? 2 : 4;
    if (plan.storage === "f16" && !ctx.device.features.has("shader-f16"))
      throw new InputError("this plan stores f16 but the adapter has no shader-f16; compile it with f32 storage");
  }

  /** Host f32 data in the plan's storage type, ready for writeBuffer. */
  private encode(data: Float32Array): ArrayBufferView<ArrayBuffer> {
    return this.plan.storage === "f16" ? toHalf(data) : copyOut(data);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  static async load(ctx: GpuContext, plan: Plan, weights: WeightSource): Promise<Executor> {
    const ex = new Executor(ctx, plan);
    const derived = plan.prepare ? await Executor.prepareWeights(ctx, plan.prepare, weights) : new Map<string, GPUBuffer>();
    await ex.uploadWeights(weights, derived);
    ex.prepared = await ex.pipelines();
    return ex;
  }

  private checkBindable(bytes: number, what: string): void {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit)
      throw new InputError(
        `${what} needs ${(bytes / 2 ** 20).toFixed(1)} MiB in one binding, more than this adapter's limit of ${(limit / 2 ** 20).toFixed(0)} MiB`,
      );
  }

  /**
   * Runs a weight-preparation plan on the device and keeps its outputs there, as weight buffers of
   * their own. Kernel by kernel: a checkpoint tensor is uploaded just before the first kernel that
   * reads it and freed after the last, and every `PREPARE_FLUSH_BYTES` of uploads the queue is drained,
   * so the device holds the prepared weights plus a few originals, not both sets whole.
   */
  private static async prepareWeights(ctx: GpuContext, plan: Plan, weights: WeightSource): Promise<Map<string, GPUBuffer>> {
    const ex = new Executor(ctx, plan);
    const out = new Map<string, GPUBuffer>();
    try {
      ex.prepared = await ex.pipelines();
      for (const o of plan.graph.outputs) {
        const size = paddedBytes(sizeOf(plan.graph.nodes[o.node].shape.map((d) => evalDim(d, {}))), ex.bytesPer);
        const buf = ctx.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: o.name });
        ex.ownBuffers.set(o.node, buf);
        out.set(o.name, buf);
      }
      const lastRead = new Map<number, number>();
      plan.kernels.forEach((k, i) => k.reads.forEach((r) => lastRead.set(r.node, i)));
      await checked(ctx.device, "weight preparation", async () => {
        ex.ensureSlots({});
        let pending = 0;
        for (let i = 0; i < ex.prepared.length; i++) {
          for (const r of ex.prepared[i].kernel.reads) {
            const n = plan.graph.nodes[r.node];
            if (n.op.kind === "param" && !ex.weightBuffers.has(n.id)) pending += ex.uploadParam(n, weights);
          }
          const encoder = ctx.device.createCommandEncoder();
          ex.encodeKernels(encoder, {}, null, i, i + 1);
          ctx.device.queue.submit([encoder.finish()]);
          for (const r of ex.prepared[i].kernel.reads) {
            const buf = ex.weightBuffers.get(r.node);
            if (buf && lastRead.get(r.node) === i) {
              buf.destroy();
              ex.weightBuffers.delete(r.node);
            }
          }
          if (pending > PREPARE_FLUSH_BYTES) {
            await ctx.device.queue.onSubmittedWorkDone();
            ex.bindGroups.clear();
            pending = 0;
          }
        }
        await ctx.device.queue.onSubmittedWorkDone();
      });
      return out;
    } catch (e) {
      for (const b of out.values()) b.destroy();
      throw e;
    } finally {
      ex.dispose();
    }
  }

  private pipelines(): Promise<PreparedKernel[]> {
    return Promise.all(
      this.plan.kernels.map(async (kernel) => ({
        kernel,
        pipeline: await pipelineFor(this.device, kernel.wgsl, kernel.name, kernel.reads.length),
        uniform: this.device.createBuffer({
          size: Math.max(16, Math.ceil(kernel.uniforms.length / 4) * 16),
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          label: `${kernel.name} dims`,
        }),
      })),
    );
  }

  private async uploadWeights(weights: WeightSource, derived: ReadonlyMap<string, GPUBuffer>): Promise<void> {
    await checked(this.device, "weight upload", () => {
      for (const n of this.plan.graph.nodes) {
        if (n.op.kind !== "param") continue;
        const prepared = derived.get(n.op.name);
        if (prepared) this.weightBuffers.set(n.id, prepared);
        else this.uploadParam(n, weights);
      }
    });
  }

  /** One checkpoint tensor (or its rows) into a buffer of its own; returns the bytes written. */
  private uploadParam(n: Node, weights: WeightSource): number {
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
    const bytes = paddedBytes(data.length, this.bytesPer);
    this.checkBindable(bytes, `weight '${name}'`);
    const buf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: name });
    this.device.queue.writeBuffer(buf, 0, this.encode(data));
    this.weightBuffers.set(n.id, buf);
    return bytes;
  }

  private inputBuffer(node: number, bytes: number): GPUBuffer {
    const existing = this.inputBuffers.get(node);
    if (existing && existing.size >= bytes) return existing;
    existing?.destroy();
    const buf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: `input %${node}` });
    this.inputBuffers.set(node, buf);
    this.bindGroups.clear();
    return buf;
  }

  private ensureSlots(env: DimEnv): void {
    const need = new Array<number>(this.plan.slotCount).fill(16);
    for (const [node, slot] of this.plan.slotOf) {
      if (this.ownBuffers.has(node)) continue;
      const bytes = paddedBytes(sizeOf(this.plan.graph.nodes[node].shape.map((d) => evalDim(d, env))), this.bytesPer);
      this.checkBindable(bytes, `intermediate %${node} ${shapeToString(this.plan.graph.nodes[node].shape)}`);
      need[slot] = Math.max(need[slot], bytes);
    }
    need.forEach((bytes, slot) => {
      if ((this.slotBytes[slot] ?? 0) >= bytes) return;
      this.slotBuffers[slot]?.destroy();
      this.slotBuffers[slot] = this.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
        label: `arena slot ${slot}`,
      });
      this.slotBytes[slot] = bytes;
      this.bindGroups.clear();
    });
  }

  private bufferOf(node: number): GPUBuffer {
    const b =
      this.ownBuffers.get(node) ??
      this.weightBuffers.get(node) ??
      this.inputBuffers.get(node) ??
      this.slotBuffers[this.plan.slotOf.get(node) ?? -1];
    if (!b) throw new Error(`internal: no buffer for node %${node}`);
    return b;
  }

  private bindGroup(p: PreparedKernel): GPUBindGroup {
    const buffers = [...p.kernel.reads.map((r) => this.bufferOf(r.node)), this.bufferOf(p.kernel.write)];
    const key = `${p.kernel.name}|${buffers.map((b) => b.label).join("|")}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      bg = this.device.createBindGroup({
        layout: p.pipeline.getBindGroupLayout(0),
        entries: [
          ...buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
          { binding: buffers.length, resource: { buffer: p.uniform } },
        ],
      });
      this.bindGroups.set(key, bg);
    }
    return bg;
  }

  private timer(): { querySet: GPUQuerySet; resolve: GPUBuffer; readback: GPUBuffer } {
    if (!this.device.features.has("timestamp-query"))
      throw new InputError("this adapter has no timestamp-query feature, so per-kernel times cannot be measured");
    const count = 2 * this.prepared.length;
    return {
      querySet: this.device.createQuerySet({ type: "timestamp", count }),
      resolve: this.device.createBuffer({ size: 8 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      readback: this.device.createBuffer({ size: 8 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    };
  }

  /**
   * Runs the plan; with `profile`, also measures each kernel's GPU time with timestamp queries. With
   * `onProgress`, the kernels go to the queue in about `PROGRESS_STEPS` submissions of equal FLOPs, and
   * the callback hears the fraction of the work done after each (a long run shows where it is).
   */
  async run(
    inputs: ReadonlyMap<string, HostTensor>,
    { profile = false, onProgress, kernelWallTimes = false }: RunOptions = {},
  ): Promise<RunResult> {
    if (this.disposed) throw new Error("executor was disposed");
    const g = this.plan.graph;
    requireDevice(this.ctx, `running ${g.name}`);
    const env: Record<string, number> = {};
    for (const inp of g.inputs) {
      const t = inputs.get(inp.name);
      if (!t) throw new InputError(`input '${inp.name}' is missing`);
      bindSymbols(g.nodes[inp.node], inp.name, t.shape, env);
    }
    for (const name of inputs.keys()) if (!g.inputs.some((i) => i.name === name)) throw new InputError(`the graph has no input '${name}'`);
    checkIndexInputs(this.plan, inputs, env);
    const started = performance.now();
    let kernelMs: number[] | undefined;
    const outputs = await checked(this.device, `running ${g.name}`, async () => {
      for (const inp of g.inputs) {
        const t = inputs.get(inp.name) as HostTensor;
        const isIndex = g.nodes[inp.node].dtype === "i32";
        const bytes = paddedBytes(t.data.length, isIndex ? 4 : this.bytesPer);
        this.checkBindable(bytes, `input '${inp.name}'`);
        this.device.queue.writeBuffer(this.inputBuffer(inp.node, bytes), 0, isIndex ? Int32Array.from(t.data) : this.encode(t.data));
      }
      let encoder = this.device.createCommandEncoder();
      const timer = profile ? this.timer() : null;
      if (kernelWallTimes && !timer) {
        kernelMs = [];
        for (let i = 0; i < this.prepared.length; i++) {
          const t0 = performance.now();
          this.encodeKernels(encoder, env, null, i, i + 1);
          this.device.queue.submit([encoder.finish()]);
          await this.device.queue.onSubmittedWorkDone();
          kernelMs.push(performance.now() - t0);
          encoder = this.device.createCommandEncoder();
        }
      } else if (onProgress && !timer) {
        encoder = await this.submitWithProgress(encoder, env, onProgress);
      } else {
        this.encodeKernels(encoder, env, timer?.querySet ?? null);
      }
      if (timer) encoder.resolveQuerySet(timer.querySet, 0, 2 * this.prepared.length, timer.resolve, 0);
      if (timer) encoder.copyBufferToBuffer(timer.resolve, 0, timer.readback, 0, 16 * this.prepared.length);
      const readbacks = g.outputs.map((o) => {
        const shape = g.nodes[o.node].shape.map((d) => evalDim(d, env));
        // copyBufferToBuffer moves multiples of 4 bytes: an odd count of halves takes its padding along.
        const bytes = Math.ceil((sizeOf(shape) * this.bytesPer) / 4) * 4;
        const rb = this.device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        if (bytes > 0) encoder.copyBufferToBuffer(this.bufferOf(o.node), 0, rb, 0, bytes);
        return { name: o.name, shape, rb, bytes };
      });
      this.device.queue.submit([encoder.finish()]);
      if (timer) {
        await timer.readback.mapAsync(GPUMapMode.READ);
        const ns = new BigUint64Array(timer.readback.getMappedRange().slice(0));
        kernelMs = this.prepared.map((_, i) => Number(ns[2 * i + 1] - ns[2 * i]) / 1e6);
        timer.readback.unmap();
        for (const b of [timer.querySet, timer.resolve, timer.readback]) b.destroy();
      }
      const result = new Map<string, HostTensor>();
      for (const r of readbacks) {
        await r.rb.mapAsync(GPUMapMode.READ);
        const raw = r.rb.getMappedRange(0, r.bytes).slice(0);
        const n = sizeOf(r.shape);
        result.set(r.name, {
          shape: r.shape,
          data: this.plan.storage === "f16" ? fromHalf(new Uint16Array(raw, 0, n)) : new Float32Array(raw, 0, n),
        });
        r.rb.unmap();
        r.rb.destroy();
      }
      return result;
    });
    requireDevice(this.ctx, `reading the results of ${g.name}`);
    if (this.ctx.uncaptured.length > 0)
      throw new Error(`WebGPU error while running ${g.name}: ${this.ctx.uncaptured.splice(0).join("; ")}`);
    return { outputs, ms: performance.now() - started, kernelMs };
  }

  /** The kernels in chunks of about equal FLOPs, each submitted and waited for; returns a fresh encoder for what follows. */
  private async submitWithProgress(
    first: GPUCommandEncoder,
    env: DimEnv,
    onProgress: (fraction: number) => void,
  ): Promise<GPUCommandEncoder> {
    const flops = this.prepared.map((p) => kernelCost(this.plan.graph, p.kernel, env).flops + 1);
    const total = flops.reduce((a, b) => a + b, 0);
    let encoder = first;
    let start = 0;
    let done = 0;
    let mark = total / PROGRESS_STEPS;
    for (let i = 0; i < this.prepared.length; i++) {
      done += flops[i];
      if (done < mark && i < this.prepared.length - 1) continue;
      mark = (total * (Math.floor((done * PROGRESS_STEPS) / total) + 1)) / PROGRESS_STEPS;
      this.encodeKernels(encoder, env, null, start, i + 1);
      this.device.queue.submit([encoder.finish()]);
      await this.device.queue.onSubmittedWorkDone();
      onProgress(done / total);
      encoder = this.device.createCommandEncoder();
      start = i + 1;
    }
    return encoder;
  }

  /** Kernels `from`..`to` of the plan into `encoder`: one pass for all of them, or with timestamps, one pass per kernel. */
  private encodeKernels(
    encoder: GPUCommandEncoder,
    env: DimEnv,
    timestamps: GPUQuerySet | null,
    from = 0,
    to = this.prepared.length,
  ): void {
    this.ensureSlots(env);
    const pass = timestamps ? null : encoder.beginComputePass();
    this.prepared.slice(from, to).forEach((p, j) => {
      const i = from + j;
      const values = new Uint32Array(Math.max(4, Math.ceil(p.kernel.uniforms.length / 4) * 4));
      p.kernel.uniforms.forEach((d, j) => (values[j] = evalDim(d, env)));
      this.device.queue.writeBuffer(p.uniform, 0, values);
      const kpass =
        pass ??
        encoder.beginComputePass(
          timestamps ? { timestampWrites: { querySet: timestamps, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {},
        );
      kpass.setPipeline(p.pipeline);
      kpass.setBindGroup(0, this.bindGroup(p));
      const [x, y, z] = workgroups(p.kernel.dispatch, env, p.kernel.name);
      if (x > 0 && y > 0 && z > 0) kpass.dispatchWorkgroups(x, y, z);
      if (!pass) kpass.end();
    });
    pass?.end();
  }

  dispose(): void {
    this.disposed = true;
    for (const b of [
      ...this.weightBuffers.values(),
      ...this.inputBuffers.values(),
      ...this.slotBuffers,
      ...this.prepared.map((p) => p.uniform),
    ])
      b.destroy();
  }
}

/** A plain ArrayBuffer copy: dawn.node crashes writing from SharedArrayBuffer-backed views. */
function copyOut(data: Float32Array): Float32Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer ? (data as Float32Array<ArrayBuffer>) : new Float32Array(data);
}
