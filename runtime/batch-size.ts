import type { Plan } from "../core/plan.ts";
import { evalDim } from "../core/dims.ts";
import { paddedBytes, slotBytes } from "./executor/buffers.ts";
import { sizeOf } from "./tensor.ts";

/** GPU bytes a run of `n` images takes beyond the weights: the arena slots and the inputs, every symbolic dim n. */
function runBytes(plan: Plan, symbols: readonly string[], n: number): { total: number; largest: number } {
  const env = Object.fromEntries(symbols.map((s) => [s, n]));
  const bytesPer = plan.storage === "f16" ? 2 : 4;
  const slots = slotBytes(plan, env, bytesPer);
  const inputs = plan.graph.inputs.map((i) => paddedBytes(sizeOf(plan.graph.nodes[i.node].shape.map((d) => evalDim(d, env))), 4));
  return { total: [...slots, ...inputs].reduce((a, b) => a + b, 0), largest: Math.max(...slots, ...inputs) };
}

/**
 * The largest batch (at most `max`) whose run fits a memory budget, each buffer within the adapter's
 * binding limit: at least 1, so a budget too small for one image still runs one at a time.
 */
export function batchForMemory(plan: Plan, symbols: readonly string[], budget: number, bindingLimit: number, max = 256): number {
  const fits = (n: number): boolean => {
    const { total, largest } = runBytes(plan, symbols, n);
    return total <= budget && largest <= bindingLimit;
  };
  if (symbols.length === 0 || !fits(1)) return 1;
  let lo = 1;
  let hi = 2;
  while (hi <= max && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  hi = Math.min(hi, max + 1);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
