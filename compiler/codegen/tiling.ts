import type { TargetClass } from "../../core/plan.ts";

/**
 * How a matmul is computed. "tiled" (the GPU kernel): a workgroup computes a `bm` x `bn` block of
 * outputs, staging `bk`-deep tiles of A and B in workgroup memory that all its invocations read, each
 * invocation `tm` rows by `tn` groups of 4 columns of the block; any operands. The others are for
 * weights stored [K, N]. "blocked": each invocation computes `tm`
 * rows by `tn` groups of 4 columns, looping over all of K (register blocking); the tile's values of A
 * are loaded by every invocation ("each"), or each lane of a subgroup loads one step of K in eight and
 * the others take it by `subgroupShuffle` ("shuffle"); its epilogue runs per output element or per vec4
 * of outputs. "split-k": the lanes of a tile share K (the general kernel). What is fastest differs
 * between adapters, so the choice is measured (the autotuner) per shape.
 */
export type MatmulTiling =
  | { strategy: "tiled"; bm: number; bn: number; bk: number; tm: number; tn: number }
  | { strategy: "blocked"; threads: number; tm: number; tn: number; epilogue: "element" | "vec4"; aLoads: "each" | "shuffle" }
  | { strategy: "split-k" };

/**
 * What generated kernels may rely on: the device's features, its smallest subgroup (0 without
 * subgroups), and the class of adapter the defaults are chosen for (CPU-emulated without it).
 */
export interface KernelTarget {
  features: readonly string[];
  subgroupMinSize: number;
  targetClass?: TargetClass;
}

/**
 * The target of a plan made without a device (explain, compile): a class's defaults for an adapter of
 * unknown features (no subgroups); without a class, none (the portable plan).
 */
export function offlineTarget(targetClass?: TargetClass): KernelTarget | undefined {
  return targetClass === undefined ? undefined : { features: [], subgroupMinSize: 0, targetClass };
}

/** A GPU matmul tiling's invocations per workgroup. */
export function tiledThreads(t: Extract<MatmulTiling, { strategy: "tiled" }>): number {
  return (t.bm / t.tm) * (t.bn / 4 / t.tn);
}

/** Lanes that share their loads of A by subgroupShuffle: the subgroup must have at least this many. */
export const SHUFFLE_LANES = 8;

/**
 * How attention is computed (attention.ts): queries per workgroup, keys per block, invocations, where
 * the probabilities pass between the kernel's phases (workgroup memory, or the tile's own rows of the
 * output, f32 storage only), and how the values every invocation needs (the tile's queries, its
 * probabilities) reach them: loaded by each ("each"), or loaded once per query by its own lane and
 * taken from it by subgroupBroadcast ("shuffle": at most SHUFFLE_LANES queries, workgroup scratch).
 */
export interface AttentionTiling {
  strategy: "flash";
  queries: number;
  keys: number;
  threads: number;
  scratch: "workgroup" | "output";
  shared: "each" | "shuffle";
}

/**
 * The GPU attention kernel (attention-staged.ts): a tile of `queries` queries and each block of `keys`
 * keys, then of values, staged in workgroup memory and shared by the workgroup's `threads` invocations
 * (scores and output channels spread over all of them). No subgroup operations: any subgroup size.
 * Where a wide head would pass 16 KiB of workgroup memory, the kernel takes fewer keys, then queries.
 */
export interface StagedAttentionTiling {
  strategy: "staged";
  queries: number;
  keys: number;
  threads: number;
}

export type AnyAttentionTiling = AttentionTiling | StagedAttentionTiling;

export type KernelTiling = MatmulTiling | AnyAttentionTiling;

/** Tuned choices by kernel key (see tuningKey); shapes not in the table get the defaults. */
export type TilingTable = ReadonlyMap<string, KernelTiling>;

/**
 * The default without subgroups. Measured on lavapipe (197x768x3072, ViT-B/16's fc1): 8x3 about 14.8
 * GFLOP/s, 8x2 10.6, 4x2 9.9, 16x2 13.7, against 4.3 for the split-K kernel.
 */
export const DEFAULT_TILING: MatmulTiling = { strategy: "blocked", threads: 64, tm: 8, tn: 3, epilogue: "element", aLoads: "each" };

/**
 * The default where subgroups have at least SHUFFLE_LANES lanes. On lavapipe every load from a storage
 * buffer is a loop over the SIMD lanes with a bounds check per lane, even where all lanes read the same
 * address, while a shuffle is a few register moves: sharing A's loads between lanes made ViT-B/16's
 * matmuls 1.7-2.2x faster (197x768x2304: 27-36 ms against 66; 197x3072x768: 41-48 against 72), and a
 * taller tile (16 rows) then shares each load of B between more rows.
 */
export const SHUFFLE_TILING: MatmulTiling = { strategy: "blocked", threads: 64, tm: 16, tn: 3, epilogue: "element", aLoads: "shuffle" };

/**
 * What the autotuner tries besides the default: register tiles that suit CPU Vulkan (one invocation,
 * many outputs), smaller tiles over more invocations that suit GPUs, and the split-K kernel.
 */
export const TILING_CANDIDATES: readonly MatmulTiling[] = [
  DEFAULT_TILING,
  SHUFFLE_TILING,
  { strategy: "blocked", threads: 64, tm: 8, tn: 3, epilogue: "element", aLoads: "shuffle" },
  { strategy: "blocked", threads: 32, tm: 16, tn: 3, epilogue: "element", aLoads: "shuffle" },
  { strategy: "blocked", threads: 64, tm: 16, tn: 2, epilogue: "element", aLoads: "shuffle" },
  { strategy: "blocked", threads: 64, tm: 4, tn: 4, epilogue: "element", aLoads: "each" },
  { strategy: "blocked", threads: 128, tm: 4, tn: 1, epilogue: "vec4", aLoads: "each" },
  { strategy: "split-k" },
];

const isGpu = (target?: KernelTarget): boolean => target?.targetClass === "gpu";

/** The matmul tiling a plan for this target gets where the autotuner has not chosen one (DEFAULT_TILING without a target). */
export function defaultMatmulTiling(target?: KernelTarget): MatmulTiling {
  if (isGpu(target)) return GPU_TILING;
  return target && tilingRunsOn(SHUFFLE_TILING, target) ? SHUFFLE_TILING : DEFAULT_TILING;
}

/** The matmul tilings the autotuner tries on this target's class. */
export function matmulCandidates(target?: KernelTarget): readonly MatmulTiling[] {
  return isGpu(target) ? GPU_TILING_CANDIDATES : TILING_CANDIDATES;
}

/** The attention tilings the autotuner tries on this target's class. */
export function attentionCandidates(target?: KernelTarget): readonly AnyAttentionTiling[] {
  return isGpu(target) ? GPU_ATTENTION_CANDIDATES : ATTENTION_CANDIDATES;
}

/**
 * The GPU default: 64x64 blocks, 16 steps of K per stage, 256 invocations of 4x4 outputs (the classic
 * shared-memory tiling; what a GPU prefers is the autotuner's to find, nothing here was measured on one).
 */
export const GPU_TILING: MatmulTiling = { strategy: "tiled", bm: 64, bn: 64, bk: 16, tm: 4, tn: 1 };

/**
 * GPU candidates: block shapes around the default (taller, wider, 8x8 per invocation as gpu.cpp's
 * fastest published WebGPU matmul, a short block for small M), and the split-K kernel.
 */
export const GPU_TILING_CANDIDATES: readonly MatmulTiling[] = [
  GPU_TILING,
  { strategy: "tiled", bm: 64, bn: 64, bk: 8, tm: 8, tn: 2 },
  { strategy: "tiled", bm: 128, bn: 64, bk: 16, tm: 8, tn: 1 },
  { strategy: "tiled", bm: 64, bn: 128, bk: 16, tm: 4, tn: 2 },
  { strategy: "tiled", bm: 64, bn: 64, bk: 16, tm: 4, tn: 2 },
  { strategy: "tiled", bm: 32, bn: 64, bk: 16, tm: 2, tn: 1 },
  { strategy: "split-k" },
];

/** Measured on lavapipe (ViT-B/16, 197 tokens, 12 heads of 64): 8 queries, workgroup scratch, 25-35 ms per layer. */
export const DEFAULT_ATTENTION: AttentionTiling = {
  strategy: "flash",
  queries: 8,
  keys: 64,
  threads: 16,
  scratch: "workgroup",
  shared: "each",
};

/** The default where subgroups have at least SHUFFLE_LANES lanes (see SHUFFLE_TILING for why shuffles pay on lavapipe). */
export const SHUFFLE_ATTENTION: AttentionTiling = { ...DEFAULT_ATTENTION, shared: "shuffle" };

/**
 * For plans built before the adapter is known (the browser demo, compiled artifacts): two queries per
 * tile. Chromium's SwiftShader ran a Qwen2-VL fixture's page in 3.5 s with it, and did not finish in
 * two minutes with 4 or 8 queries per tile.
 */
export const PORTABLE_ATTENTION: AttentionTiling = {
  strategy: "flash",
  queries: 2,
  keys: 64,
  threads: 16,
  scratch: "workgroup",
  shared: "each",
};

export const ATTENTION_CANDIDATES: readonly AttentionTiling[] = [
  DEFAULT_ATTENTION,
  SHUFFLE_ATTENTION,
  PORTABLE_ATTENTION,
  { strategy: "flash", queries: 8, keys: 64, threads: 16, scratch: "output", shared: "each" },
  { strategy: "flash", queries: 8, keys: 128, threads: 16, scratch: "workgroup", shared: "shuffle" },
  { strategy: "flash", queries: 4, keys: 64, threads: 16, scratch: "workgroup", shared: "shuffle" },
  { strategy: "flash", queries: 8, keys: 32, threads: 8, scratch: "workgroup", shared: "shuffle" },
  { strategy: "flash", queries: 8, keys: 64, threads: 64, scratch: "workgroup", shared: "each" },
];

/**
 * The GPU default: 16 queries against blocks of 32 keys, 64 invocations (two 32-wide warps, one
 * 64-wide wave), 14.3 KiB of workgroup memory for heads of 64. Not measured on a GPU yet.
 */
export const GPU_ATTENTION: StagedAttentionTiling = { strategy: "staged", queries: 16, keys: 32, threads: 64 };

/** GPU candidates: fewer queries per tile (short sequences), more invocations, shorter key blocks for wide heads. */
export const GPU_ATTENTION_CANDIDATES: readonly StagedAttentionTiling[] = [
  GPU_ATTENTION,
  { strategy: "staged", queries: 8, keys: 32, threads: 64 },
  { strategy: "staged", queries: 16, keys: 32, threads: 128 },
  { strategy: "staged", queries: 16, keys: 16, threads: 128 },
  { strategy: "staged", queries: 32, keys: 16, threads: 128 },
  { strategy: "staged", queries: 32, keys: 16, threads: 256 },
];

export function tilingName(t: KernelTiling): string {
  switch (t.strategy) {
    case "tiled":
      return `tiled ${tiledThreads(t)}t ${t.bm}x${t.bn}x${t.bk} ${t.tm}x${t.tn * 4}`;
    case "split-k":
      return "split-k";
    case "blocked":
      return `blocked ${t.threads}t ${t.tm}x${t.tn}x4 ${t.epilogue}${t.aLoads === "shuffle" ? " shuffle-a" : ""}`;
    case "staged":
      return `staged ${t.threads}t ${t.queries}q ${t.keys}k`;
    case "flash":
      return `flash ${t.threads}t ${t.queries}q ${t.keys}k ${t.scratch}${t.shared === "shuffle" ? " shuffle" : ""}`;
  }
}

/** Whether a tiling can run on this target (shuffled loads need subgroups of at least SHUFFLE_LANES). */
export function tilingRunsOn(t: KernelTiling, target: KernelTarget): boolean {
  const shuffles = (t.strategy === "blocked" && t.aLoads === "shuffle") || (t.strategy === "flash" && t.shared === "shuffle");
  return !shuffles || (target.features.includes("subgroups") && target.subgroupMinSize >= SHUFFLE_LANES);
}

/** The attention tiling a plan for this target gets where the autotuner has not chosen one (DEFAULT_ATTENTION without a target). */
export function defaultAttentionTiling(target?: KernelTarget): AnyAttentionTiling {
  if (isGpu(target)) return GPU_ATTENTION;
  return target && tilingRunsOn(SHUFFLE_ATTENTION, target) ? SHUFFLE_ATTENTION : DEFAULT_ATTENTION;
}
