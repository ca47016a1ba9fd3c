// The autotuner: for every matmul and attention shape of a graph, each candidate tiling is compiled
// into the whole plan and timed per kernel (timestamp queries) on the device; the fastest per shape
// is kept, in the per-adapter cache (cache.ts).
import { tilingName, type KernelTiling } from "../compiler/codegen/tiling.ts";
import { candidatesFor } from "../compiler/kernels/index.ts";
import type { Plan } from "../core/plan.ts";
import { Executor } from "../runtime/executor/executor.ts";
import { deviceTarget, type DeviceTarget, type GpuContext } from "../runtime/gpu-context.ts";
import { maxAbsDiff, type HostTensor, type WeightSource } from "../runtime/tensor.ts";
import { loadTilings, saveTilings, type TunedChoice } from "./cache.ts";

export interface TuneOptions {
  /** Compiles the graph with these tilings by kernel key (the keys not given get the defaults). */
  compile: (tilings: ReadonlyMap<string, KernelTiling>) => Plan;
  weights: WeightSource;
  inputs: ReadonlyMap<string, HostTensor>;
  /** Profiled runs per candidate and pass after a warm-up; each kernel's best run counts. */
  runs?: number;
  /** Passes over all the candidates, interleaved; each candidate's best pass counts (default 2). */
  passes?: number;
  /** Measure again the keys the cache already has. */
  retune?: boolean;
  /** Names the graph in the cache entries. */
  graph: string;
  log?: (line: string) => void;
  /** The class the plans are compiled for and the cache entry their choices go to (default: the device's own). */
  target?: DeviceTarget;
}

export interface TuneReport {
  /** The table to compile with: cached choices and the new ones. */
  table: Map<string, KernelTiling>;
  /** Keys measured in this call, with each candidate's GPU milliseconds. */
  tuned: Record<string, TunedChoice>;
  cached: string[];
}

/** How much faster than the default a candidate must be to replace it. */
const NOISE_MARGIN = 0.1;

/** Largest |difference| from the defaults' outputs a candidate may show, relative to the largest value. */
const AGREEMENT = 1e-3;

function worstDisagreement(got: ReadonlyMap<string, HostTensor>, want: ReadonlyMap<string, HostTensor>): number {
  let worst = 0;
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) return Infinity;
    const scale = w.data.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
    worst = Math.max(worst, maxAbsDiff(g, w) / scale);
  }
  return worst;
}

export async function autotune(ctx: GpuContext, options: TuneOptions): Promise<TuneReport> {
  const log = options.log ?? (() => {});
  if (!ctx.device.features.has("timestamp-query"))
    throw new Error(`autotuning needs the adapter's timestamp-query feature, which '${ctx.adapterName}' lacks`);
  const target = options.target ?? deviceTarget(ctx);
  const { table } = loadTilings(target.tuningKey, undefined, target);
  const keys = [...new Set(options.compile(table).kernels.flatMap((k) => (k.tuning ? [k.tuning.key] : [])))];
  const todo = keys.filter((k) => options.retune || !table.has(k));
  const cached = keys.filter((k) => !todo.includes(k));
  if (todo.length === 0) return { table, tuned: {}, cached };
  const candidates = (key: string): readonly KernelTiling[] => candidatesFor(key, target);
  const rounds = Math.max(...todo.map((k) => candidates(k).length));
  const measured = new Map<string, Map<number, number>>(todo.map((k) => [k, new Map()]));
  const excluded = new Set<number>();
  let reference: ReadonlyMap<string, HostTensor> | null = null;
  // Passes over all the candidate sets (a, b, c, a, b, c): each candidate's best pass counts, so a
  // moment when other work shared the machine does not decide against one candidate alone.
  const passes = options.passes ?? 2;
  for (let pass = 0; pass < passes; pass++) {
    for (let c = 0; c < rounds; c++) {
      if (excluded.has(c)) continue;
      const trial = new Map(table);
      for (const key of todo) {
        const candidate = candidates(key)[c];
        if (candidate) trial.set(key, candidate);
      }
      const plan = options.compile(trial);
      const executor = await Executor.load(ctx, plan, options.weights);
      try {
        if (pass === 0) {
          // Set 0 (every shape at its first candidate, the default) is the reference the others must match.
          const { outputs } = await executor.run(options.inputs);
          if (reference === null) reference = outputs;
          const diff = worstDisagreement(outputs, reference);
          if (!(diff <= AGREEMENT)) {
            log(
              `  candidate set ${c + 1}/${rounds} left out: its outputs differ from the defaults' by ${diff.toExponential(2)} (relative)`,
            );
            excluded.add(c);
            // Recorded as never fastest (null in the cache), so the entry still lists every candidate.
            for (const key of todo) if (candidates(key)[c]) (measured.get(key) as Map<number, number>).set(c, Infinity);
            continue;
          }
        }
        const best = plan.kernels.map(() => Infinity);
        for (let r = 0; r < (options.runs ?? 2); r++) {
          const { kernelMs = [] } = await executor.run(options.inputs, { profile: true });
          kernelMs.forEach((ms, i) => (best[i] = Math.min(best[i], ms)));
        }
        const sums = new Map<string, number>();
        plan.kernels.forEach((k, i) => {
          const key = k.tuning?.key;
          if (key !== undefined && measured.has(key) && candidates(key)[c]) sums.set(key, (sums.get(key) ?? 0) + best[i]);
        });
        for (const [key, ms] of sums) {
          const m = measured.get(key) as Map<number, number>;
          m.set(c, Math.min(m.get(c) ?? Infinity, ms));
        }
      } finally {
        executor.dispose();
      }
      log(`  candidate set ${c + 1}/${rounds} measured (pass ${pass + 1}/${passes})`);
    }
  }
  const tuned: Record<string, TunedChoice> = {};
  const date = new Date().toISOString().slice(0, 10);
  for (const key of todo) {
    const m = measured.get(key) as Map<number, number>;
    // The first candidate (the default) is kept unless another beats it by NOISE_MARGIN: the
    // candidates are timed at different moments, and on a shared machine a few percent is noise.
    const [fastest, fastestMs] = [...m].sort((a, b) => a[1] - b[1])[0];
    const winner = m.has(0) && fastestMs > (1 - NOISE_MARGIN) * (m.get(0) as number) ? 0 : fastest;
    const tiling = candidates(key)[winner];
    table.set(key, tiling);
    tuned[key] = {
      tiling,
      measured: Object.fromEntries([...m].map(([c, ms]) => [tilingName(candidates(key)[c]), Number(ms.toFixed(3))])),
      graph: options.graph,
      date,
    };
    log(
      `  ${key}: ${tilingName(tiling)} (${[...m].map(([c, ms]) => `${tilingName(candidates(key)[c])} ${Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : "left out"}`).join(", ")})`,
    );
  }
  saveTilings(target.tuningKey, tuned);
  return { table, tuned, cached };
}
