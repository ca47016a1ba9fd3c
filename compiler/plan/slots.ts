import type { Graph } from "../../core/graph.ts";
import type { PlanKernel } from "../../core/plan.ts";

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
