import { compileGraph } from "../../compiler/compile.ts";
import type { Graph } from "../../core/graph.ts";
import type { KernelTarget, TilingTable } from "../../compiler/codegen/tiling.ts";
import { getGpu } from "../../runtime/device.ts";
import { Executor } from "../../runtime/executor/executor.ts";
import { interpret } from "../../runtime/reference/interpreter.ts";
import { maxAbsDiff, type HostTensor } from "../../runtime/tensor.ts";
import { randomTensor, randomWeights, rng } from "../../runtime/weights/random.ts";

export interface Comparison {
  fused: Record<string, number>;
  unfused: Record<string, number>;
  kernels: { fused: number; unfused: number };
}

/**
 * Runs a graph fused and unfused on the GPU and returns each output's
 * max abs difference from the CPU reference, divided by max(10, largest |reference value|): f32
 * rounding grows with the magnitude of the values, so the tolerance is relative for large outputs.
 */
export interface CompareOptions {
  /** Tilings for the fused plan (the autotuner's choices); the unfused plan is then not run. */
  tilings?: TilingTable;
  /** Inputs with fixed values (attention segments), as 1-D tensors. */
  given?: Record<string, number[]>;
  /** The target the plans are compiled for (its class picks the defaults); the portable defaults without one. */
  target?: KernelTarget;
}

export async function compareWithReference(
  g: Graph,
  inputShapes: Record<string, number[]>,
  env: Record<string, number> = {},
  seed = 7,
  { tilings, given = {}, target }: CompareOptions = {},
): Promise<Comparison> {
  const rand = rng(seed);
  const inputs = new Map<string, HostTensor>(Object.entries(inputShapes).map(([name, shape]) => [name, randomTensor(shape, rand)]));
  for (const [name, values] of Object.entries(given)) inputs.set(name, { shape: [values.length], data: Float32Array.from(values) });
  const weights = randomWeights(g, seed + 1);
  // Larger weights than the init default, so that errors are not hidden by tiny values.
  for (const w of weights.values()) for (let i = 0; i < w.data.length; i++) w.data[i] *= 20;
  const expected = interpret(g, inputs, weights, env);
  const ctx = await getGpu();
  const result: Comparison = { fused: {}, unfused: {}, kernels: { fused: 0, unfused: 0 } };
  for (const fuse of tilings ? [true] : [true, false]) {
    const plan = compileGraph(g, { fuse, tilings, target });
    const ex = await Executor.load(ctx, plan, weights);
    try {
      const { outputs } = await ex.run(inputs);
      const into = fuse ? result.fused : result.unfused;
      for (const [name, t] of expected) {
        const scale = Math.max(10, ...Array.from(t.data, Math.abs));
        into[name] = Math.max(into[name] ?? 0, maxAbsDiff(outputs.get(name) as HostTensor, t) / scale);
      }
      const key = fuse ? "fused" : "unfused";
      result.kernels[key] = plan.kernels.length;
    } finally {
      ex.dispose();
    }
  }
  return result;
}
