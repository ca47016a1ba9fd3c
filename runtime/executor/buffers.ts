import { evalDim, shapeToString, type DimEnv } from "../../core/dims.ts";
import { InputError } from "../../core/errors.ts";
import type { Plan, PlanKernel } from "../../core/plan.ts";
import { toHalf } from "../half.ts";
import { sizeOf } from "../tensor.ts";

/** Bytes of a buffer of `elements` values: a multiple of 16, at least 16 (WebGPU's binding alignment). */
export function paddedBytes(elements: number, bytesPer = 4): number {
  return Math.max(16, Math.ceil((elements * bytesPer) / 16) * 16);
}

/** The bytes of each arena slot of a plan at these dims (over the intermediates `keep` accepts). */
export function slotBytes(
  plan: Plan,
  env: DimEnv,
  bytesPer: number,
  keep: (node: number, bytes: number) => boolean = () => true,
): number[] {
  const need = new Array<number>(plan.slotCount).fill(16);
  for (const [node, slot] of plan.slotOf) {
    const bytes = paddedBytes(sizeOf(plan.graph.nodes[node].shape.map((d) => evalDim(d, env))), bytesPer);
    if (keep(node, bytes)) need[slot] = Math.max(need[slot], bytes);
  }
  return need;
}

/**
 * Every GPU buffer a plan binds (weights, inputs, arena slots, and outputs handed over to another
 * executor) and the bind groups over them, which are rebuilt when a buffer they name is replaced.
 */
export class PlanBuffers {
  readonly weights = new Map<number, GPUBuffer>();
  /** Buffers written here but owned by the caller: a preparation plan's outputs, handed over as weights. */
  readonly handedOver = new Map<number, GPUBuffer>();
  readonly bytesPer: number;
  private readonly inputs = new Map<number, GPUBuffer>();
  private readonly slots: GPUBuffer[] = [];
  private readonly slotBytes: number[] = [];
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** The run's f16 overflow flag (one u32), where the plan's kernels check the range of what they store. */
  readonly overflow: GPUBuffer | null;

  constructor(
    private readonly device: GPUDevice,
    private readonly plan: Plan,
  ) {
    this.bytesPer = plan.storage === "f16" ? 2 : 4;
    this.overflow = plan.kernels.some((k) => k.checksRange)
      ? device.createBuffer({
          size: 4,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
          label: "f16 overflow",
        })
      : null;
  }

  /** Host f32 data in the plan's storage type, ready for writeBuffer. */
  encode(data: Float32Array): ArrayBufferView<ArrayBuffer> {
    return this.plan.storage === "f16" ? toHalf(data) : copyOut(data);
  }

  checkBindable(bytes: number, what: string): void {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit)
      throw new InputError(
        `${what} needs ${(bytes / 2 ** 20).toFixed(1)} MiB in one binding, more than this adapter's limit of ${(limit / 2 ** 20).toFixed(0)} MiB`,
      );
  }

  /** The buffer of an input, grown (and its bind groups dropped) when a run's input is larger than before. */
  input(node: number, bytes: number): GPUBuffer {
    const existing = this.inputs.get(node);
    if (existing && existing.size >= bytes) return existing;
    existing?.destroy();
    const buf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: `input %${node}` });
    this.inputs.set(node, buf);
    this.bindGroups.clear();
    return buf;
  }

  /** Arena slots large enough for every intermediate at these dims. */
  ensureSlots(env: DimEnv): void {
    const need = slotBytes(this.plan, env, this.bytesPer, (node, bytes) => {
      if (this.handedOver.has(node)) return false;
      this.checkBindable(bytes, `intermediate %${node} ${shapeToString(this.plan.graph.nodes[node].shape)}`);
      return true;
    });
    need.forEach((bytes, slot) => {
      if ((this.slotBytes[slot] ?? 0) >= bytes) return;
      this.slots[slot]?.destroy();
      this.slots[slot] = this.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
        label: `arena slot ${slot}`,
      });
      this.slotBytes[slot] = bytes;
      this.bindGroups.clear();
    });
  }

  of(node: number): GPUBuffer {
    const b = this.handedOver.get(node) ?? this.weights.get(node) ?? this.inputs.get(node) ?? this.slots[this.plan.slotOf.get(node) ?? -1];
    if (!b) throw new Error(`internal: no buffer for node %${node}`);
    return b;
  }

  bindGroup(kernel: PlanKernel, pipeline: GPUComputePipeline, uniform: GPUBuffer): GPUBindGroup {
    const buffers = [...kernel.reads.map((r) => this.of(r.node)), this.of(kernel.write)];
    const key = `${kernel.name}|${buffers.map((b) => b.label).join("|")}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      bg = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          ...buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
          { binding: buffers.length, resource: { buffer: uniform } },
          ...(kernel.checksRange && this.overflow ? [{ binding: buffers.length + 1, resource: { buffer: this.overflow } }] : []),
        ],
      });
      this.bindGroups.set(key, bg);
    }
    return bg;
  }

  /** Frees a checkpoint tensor after the last kernel that reads it (weight preparation streams them). */
  dropWeight(node: number): void {
    this.weights.get(node)?.destroy();
    this.weights.delete(node);
  }

  forgetBindGroups(): void {
    this.bindGroups.clear();
  }

  /** Destroys what these buffers own (not the handed-over ones). */
  dispose(): void {
    for (const b of [...this.weights.values(), ...this.inputs.values(), ...this.slots]) b.destroy();
    this.overflow?.destroy();
  }
}

/** A plain ArrayBuffer copy: dawn.node crashes writing from SharedArrayBuffer-backed views. */
function copyOut(data: Float32Array): Float32Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer ? (data as Float32Array<ArrayBuffer>) : new Float32Array(data);
}
