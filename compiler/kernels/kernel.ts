import type { Graph } from "../../core/graph.ts";
import type { KernelKind } from "../../core/plan.ts";
import type { KernelCode } from "../codegen/kernel-code.ts";
import type { KernelTarget, KernelTiling } from "../codegen/tiling.ts";
import type { KernelWriter } from "../codegen/writer.ts";
import type { KernelGroup } from "../fusion/groups.ts";

/** How a kernel kind's tilings are tuned: the shape its choices are cached under, what is tried, the default. */
export interface Tuning<T extends KernelTiling> {
  /** The shape part of the cache key (the registry puts the kind in front), or null where this group cannot be tuned. */
  shapeKey(g: Graph, group: KernelGroup): string | null;
  /** What the autotuner tries on a target (its class decides), the default among them. */
  candidates(target?: KernelTarget): readonly T[];
  defaultFor(target?: KernelTarget): T;
  /** Whether a tiling (from the cache, say) is one this kind takes. */
  accepts(t: KernelTiling): t is T;
}

/** One kernel kind: its generator and, for kinds with tilings, how those are tuned. One registry line each (index.ts). */
export interface KernelModule<T extends KernelTiling = KernelTiling> {
  kind: KernelKind;
  generate(w: KernelWriter, tiling: T | null): KernelCode;
  tuning: Tuning<T> | null;
}
