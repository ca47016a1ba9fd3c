// The kernel kinds. A new kind is a module (its generator, and how it is tuned if it has tilings) and
// one line in KERNELS; fusion (compiler/fusion/groups.ts) decides which groups are of which kind.
import type { Graph } from "../../core/graph.ts";
import type { KernelKind, StorageType } from "../../core/plan.ts";
import type { KernelCode } from "../codegen/kernel-code.ts";
import { tilingRunsOn, type AnyAttentionTiling, type KernelTarget, type KernelTiling, type TilingTable } from "../codegen/tiling.ts";
import { KernelWriter } from "../codegen/writer.ts";
import type { KernelGroup } from "../fusion/groups.ts";
import { attention } from "./attention.ts";
import type { KernelModule } from "./kernel.ts";
import { matmul } from "./matmul.ts";
import { pointwise } from "./pointwise.ts";
import { row } from "./row.ts";

export const KERNELS: { readonly [K in KernelKind]: KernelModule } = { pointwise, row, matmul, attention };

/**
 * The key a tuned choice is stored under (`"<kind> <shape>"`, e.g. `matmul 1x197x768x2304`), or null
 * for a group whose kind has no tilings or whose shape cannot be tuned.
 */
export function tuningKey(g: Graph, group: KernelGroup): string | null {
  const shape = KERNELS[group.kind].tuning?.shapeKey(g, group) ?? null;
  return shape === null ? null : `${group.kind} ${shape}`;
}

/** The kind a tuning key belongs to; an error for a key no tunable kind makes. */
export function kindOfKey(key: string): KernelKind {
  const kind = key.slice(0, key.indexOf(" "));
  if (!(kind in KERNELS) || KERNELS[kind as KernelKind].tuning === null) throw new Error(`internal: '${key}' is not a tuning key`);
  return kind as KernelKind;
}

function tuningOf(key: string): NonNullable<KernelModule["tuning"]> {
  return KERNELS[kindOfKey(key)].tuning as NonNullable<KernelModule["tuning"]>;
}

/** The candidates the autotuner measures for a kernel with this key on this target, the target's default first. */
export function candidatesFor(key: string, target: KernelTarget): readonly KernelTiling[] {
  const tuning = tuningOf(key);
  const first = tuning.defaultFor(target);
  return [first, ...tuning.candidates(target).filter((t) => t !== first && tilingRunsOn(t, target))];
}

/** A table giving every attention key among `keys` the same tiling. */
export function attentionEverywhere(keys: Iterable<string>, tiling: AnyAttentionTiling): Map<string, KernelTiling> {
  return new Map([...keys].filter((k) => kindOfKey(k) === "attention").map((k) => [k, tiling]));
}

/**
 * The WGSL of one kernel group; kinds with tilings take theirs from `tilings` (the autotuner's) where
 * the kind accepts it, or else their default for `target` (the portable default without one).
 */
export function generateKernel(
  g: Graph,
  group: KernelGroup,
  storage: StorageType = "f32",
  tilings?: TilingTable,
  target?: KernelTarget,
  rangeCheck = false,
): KernelCode {
  const kernel = KERNELS[group.kind];
  const w = new KernelWriter(g, group, storage, rangeCheck);
  const checked = (code: KernelCode): KernelCode => (w.checksRange ? { ...code, checksRange: true } : code);
  if (!kernel.tuning) return checked(kernel.generate(w, null));
  const key = tuningKey(g, group);
  const chosen = key === null ? undefined : tilings?.get(key);
  const tiling = chosen && kernel.tuning.accepts(chosen) ? chosen : kernel.tuning.defaultFor(target);
  return checked({ ...kernel.generate(w, tiling), tiling });
}
