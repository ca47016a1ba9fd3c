import type { Dim } from "./dims.ts";
import type { Graph } from "./graph.ts";

/**
 * Kernel templates:
 * - pointwise: one thread per output element, any DAG of elementwise ops and views inlined;
 * - row: reductions along one axis with their elementwise neighbours, one workgroup per row;
 * - matmul: a tiled contraction whose operands load through views and whose epilogue is the
 *   elementwise chain up to the kernel's output (bias, activation, residual add, ...);
 * - attention: softmax(q k^T) v per head with online softmax, q/k/v loaded through views.
 */
export type KernelKind = "pointwise" | "row" | "matmul" | "attention";

/** The class of adapter a plan's kernels are shaped for: CPU-emulated (lavapipe, SwiftShader) or a real GPU. */
export type TargetClass = "cpu" | "gpu";

/** How tensors are stored in GPU buffers. Arithmetic is always f32. */
export type StorageType = "f32" | "f16";

/** How many workgroups to launch, as functions of the symbolic dims. */
export type Dispatch =
  /** `count` workgroups in a line, folded into x and y when past the per-dimension limit. */
  { kind: "linear"; count: Dim } | { kind: "grid"; x: Dim; y: Dim; z: Dim };

/** Derived weights are named so no checkpoint tensor can be mistaken for one. */
export const PREPARED_PREFIX = "~prepared/";

export interface PlanKernel {
  name: string;
  kind: KernelKind;
  wgsl: string;
  /** Nodes whose buffers bind, in binding order; `vec4` bindings view the same buffer as vec4<f32>. */
  reads: { node: number; vec4: boolean }[];
  /** The node this kernel writes. */
  write: number;
  /** Values of the uniform slots, as functions of the symbolic dims. */
  uniforms: Dim[];
  dispatch: Dispatch;
  /** Graph nodes computed by this kernel. */
  nodes: number[];
  /** For a matmul the autotuner can tune: its key and the tiling it was generated with. */
  tuning?: { key: string; tiling: string };
  /** It binds the run's f16 overflow flag (a u32 after its uniforms) and sets it when a stored value exceeds f16's range. */
  checksRange?: boolean;
}

/** Everything the runtime needs: kernels in order, and which arena slot holds each intermediate. */
export interface Plan {
  graph: Graph;
  kernels: PlanKernel[];
  /** Arena slot of each node written by a kernel; slots are reused once their tenant is dead. */
  slotOf: Map<number, number>;
  slotCount: number;
  /** Element type of every GPU buffer (weights, inputs, intermediates, outputs). */
  storage: StorageType;
  /** Run once when the weights are loaded: computes the derived weights (named PREPARED_PREFIX + i) from the checkpoint's. */
  prepare: Plan | null;
  /** The adapter class the kernels were shaped for; absent for a portable plan (no class known). */
  targetClass?: TargetClass;
  /** Why each kernel holds what it holds (parallel to `kernels`); known to the compiler, not stored in plan.json. */
  fusion?: KernelFusion[];
}

/** The fusion rules' record for one kernel, for `explain`. */
export interface KernelFusion {
  /** Why the kernel's root is written to memory instead of being computed inside the kernel that reads it. */
  apart: string;
  /** The rule that joined each other member to the kernel. */
  joined: { node: number; rule: string }[];
}
