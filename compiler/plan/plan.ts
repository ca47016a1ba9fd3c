import type { Dim } from "../ir/dims.ts";
import type { Graph } from "../ir/graph.ts";
import type { Dispatch } from "../codegen/templates.ts";
import type { KernelKind } from "../fusion/groups.ts";
import type { StorageType } from "../codegen/writer.ts";

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
}

/** Greedy interval allocation: a slot is free again after the last kernel that reads its tenant. */
export function assignSlots(g: Graph, kernels: readonly PlanKernel[]): { slotOf: Map<number, number>; slotCount: number } {
  const lastUse = new Map<number, number>();
  kernels.forEach((k, i) => k.reads.forEach((r) => lastUse.set(r.node, i)));
  for (const o of g.outputs) lastUse.set(o.node, Infinity);
  const slotOf = new Map<number, number>();
  const free: number[] = [];
  const live: { node: number; slot: number }[] = [];
  let slotCount = 0;
  kernels.forEach((k, i) => {
    for (let j = live.length - 1; j >= 0; j--) {
      if ((lastUse.get(live[j].node) ?? -1) < i) {
        free.push(live[j].slot);
        live.splice(j, 1);
      }
    }
    const slot = free.pop() ?? slotCount++;
    slotOf.set(k.write, slot);
    live.push({ node: k.write, slot });
  });
  return { slotOf, slotCount };
}
