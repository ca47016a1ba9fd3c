import { compileProgram } from "../compiler/compile.ts";
import type { Program } from "../compiler/elaborate/elaborate.ts";
import { kernelCost } from "../compiler/plan/cost.ts";
import type { Plan } from "../compiler/plan/plan.ts";
import { getGpu } from "../runtime/device.ts";
import { bindSymbols, Executor } from "../runtime/executor.ts";
import type { HostTensor } from "../runtime/tensor.ts";

/** One benchmark result, in the format of bench/results/latest.json. */
export interface BenchRecord {
  graph: string;
  preset: string;
  input: string;
  dtype: "f32" | "f16";
  engine: "tesserae" | "tesserae-unfused";
  adapter: string;
  runs: number;
  median_ms: number;
  min_ms: number;
  /** Achieved rate over the median run. */
  gflops: number;
  kernels: { name: string; kind: string; gpu_ms: number; gflops: number; gbps: number }[];
  /** Pipeline creation and first (cold) run, milliseconds. */
  compile_ms: number;
  cold_ms: number;
  weight_bytes: number;
}

export interface BenchCase {
  name: string;
  program: Program;
  preset: string;
  inputs: Map<string, HostTensor>;
  weights: Map<string, HostTensor>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Engine { record: BenchRecord; executor: Executor; plan: Plan; times: number[] }

/**
 * Runs of one graph by each engine (fused, unfused), interleaved run by run so that the machine's noise hits both
 * alike; per-kernel GPU times come from one extra profiled run (timestamp queries).
 */
export interface BenchOptions {
  runs: number;
  /** Which engines to run, side by side. */
  engines: ("tesserae" | "tesserae-unfused")[];
  storage: "f32" | "f16";
  log: (s: string) => void;
}

export async function benchEngines(c: BenchCase, { runs, engines: wanted, storage, log }: BenchOptions): Promise<BenchRecord[]> {
  const ctx = await getGpu();
  const engines: Engine[] = [];
  const env: Record<string, number> = {};
  const g = c.program.graph;
  for (const inp of g.inputs) bindSymbols(g.nodes[inp.node], inp.name, (c.inputs.get(inp.name) as HostTensor).shape, env);
  const shape = (c.inputs.get(g.inputs[0].name) as HostTensor).shape;
  for (const engine of wanted) {
    const fuse = engine === "tesserae";
    const plan = compileProgram(c.program, { fuse, storage });
    const t0 = performance.now();
    const executor = await Executor.load(ctx, plan, c.weights);
    const t1 = performance.now();
    const cold = await executor.run(c.inputs);
    const flops = plan.kernels.reduce((a, k) => a + kernelCost(plan.graph, k, env).flops, 0);
    const weightBytes = plan.graph.nodes.reduce((a, n) => a + (n.op.kind === "param" ? n.shape.reduce<number>((x, d) => x * (d as number), 4) : 0), 0);
    const record: BenchRecord = {
      graph: c.name, preset: c.preset, input: `${shape.join("x")}`, dtype: storage, engine,
      adapter: ctx.adapterName, runs, median_ms: 0, min_ms: 0, gflops: flops / 1e9, kernels: [], compile_ms: t1 - t0, cold_ms: cold.ms, weight_bytes: weightBytes,
    };
    engines.push({ record, executor, plan, times: [] });
    log(`  ${record.engine}: ${plan.kernels.length} kernels, pipelines+upload ${(t1 - t0).toFixed(0)} ms, cold run ${cold.ms.toFixed(0)} ms`);
  }
  for (let i = 0; i < runs; i++) {
    for (const e of engines) e.times.push((await e.executor.run(c.inputs)).ms);
  }
  for (const e of engines) {
    const profiled = await e.executor.run(c.inputs, { profile: true });
    const totalFlops = e.record.gflops * 1e9;
    e.record.median_ms = median(e.times);
    e.record.min_ms = Math.min(...e.times);
    e.record.gflops = totalFlops / 1e9 / (e.record.median_ms / 1e3);
    e.record.kernels = e.plan.kernels.map((k, i) => {
      const cost = kernelCost(e.plan.graph, k, env);
      const ms = profiled.kernelMs?.[i] ?? NaN;
      return { name: k.name, kind: k.kind, gpu_ms: ms, gflops: cost.flops / 1e6 / ms, gbps: cost.bytes / 1e6 / ms };
    });
    e.executor.dispose();
    log(`  ${e.record.engine}: median ${e.record.median_ms.toFixed(1)} ms, min ${e.record.min_ms.toFixed(1)} ms, ${e.record.gflops.toFixed(2)} GFLOP/s`);
  }
  return engines.map((e) => e.record);
}
