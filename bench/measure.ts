import { compileProgram } from "../compiler/compile.ts";
import type { Program } from "../core/program.ts";
import { kernelCost } from "../core/cost.ts";
import type { Plan } from "../core/plan.ts";
import { deviceTarget, getGpu, type DeviceTarget } from "../runtime/device.ts";
import { Executor } from "../runtime/executor/executor.ts";
import { bindSymbols } from "../runtime/executor/inputs.ts";
import { maxAbsDiff, type HostTensor } from "../runtime/tensor.ts";
// Loaded when a peer runs: an installed package has no ONNX Runtime (a dev dependency of the checkout).
async function onnxRuntime(): Promise<typeof import("onnxruntime-node")> {
  try {
    return await import("onnxruntime-node");
  } catch {
    throw new Error("onnxruntime-node is not installed (the checkout has it as a dev dependency; elsewhere: npm install onnxruntime-node)");
  }
}
import { exportOnnx, OnnxExportError } from "../compiler/emit/onnx.ts";
import type { TilingTable } from "../compiler/codegen/tiling.ts";
import { ortWeb, withEventLoopAwake } from "./ort-web.ts";

export type EngineName = "tesserae" | "tesserae-unfused" | "ort-cpu" | "ort-node-webgpu" | "ort-web-webgpu";

/** The ONNX Runtime engines, in the order they run. */
export const PEERS = ["ort-cpu", "ort-node-webgpu", "ort-web-webgpu"] as const;
type PeerName = (typeof PEERS)[number];

/** One benchmark result, in the format of bench/results/latest.json. */
export interface BenchRecord {
  graph: string;
  preset: string;
  input: string;
  dtype: "f32" | "f16";
  engine: EngineName;
  adapter: string;
  runs: number;
  median_ms: number;
  min_ms: number;
  /** Achieved rate over the median run. */
  gflops: number;
  /** Per kernel: GPU time, rates, and for a tunable kernel the tiling it ran with. */
  kernels: { name: string; kind: string; gpu_ms: number; gflops: number; gbps: number; tiling?: string }[];
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

/** What the peers' sessions have in common (onnxruntime-node and onnxruntime-web share the API). */
interface PeerSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { dims: readonly number[]; data: unknown }>>;
  release(): Promise<void>;
}

/** An ONNX Runtime peer: the same graph exported to ONNX with the same weights, checked against Tesserae before it is timed. */
interface Peer {
  record: BenchRecord;
  session: PeerSession;
  feeds: Record<string, unknown>;
  times: number[];
}

/** Largest |difference| a peer may show against Tesserae's fused outputs, relative to the largest value. */
const PEER_AGREEMENT = 1e-3;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Engine {
  record: BenchRecord;
  executor: Executor;
  plan: Plan;
  times: number[];
}

/**
 * Runs of one graph by each engine (fused, unfused), interleaved run by run so that the machine's noise hits both
 * alike; per-kernel GPU times come from one extra profiled run (timestamp queries).
 */
export interface BenchOptions {
  runs: number;
  /** Which engines to run, side by side. */
  engines: EngineName[];
  storage: "f32" | "f16";
  /** The autotuner's choices for the fused plan (the defaults where absent). */
  tilings?: TilingTable;
  /** The class the plans are compiled for (default: the adapter's own). */
  target?: DeviceTarget;
  log: (s: string) => void;
}

export async function benchEngines(c: BenchCase, options: BenchOptions): Promise<BenchRecord[]> {
  const { runs, engines: wanted, storage, tilings, log } = options;
  const ctx = await getGpu();
  const target = options.target ?? deviceTarget(ctx);
  const engines: Engine[] = [];
  const env: Record<string, number> = {};
  const g = c.program.graph;
  for (const inp of g.inputs) bindSymbols(g.nodes[inp.node], inp.name, (c.inputs.get(inp.name) as HostTensor).shape, env);
  const shape = (c.inputs.get(g.inputs[0].name) as HostTensor).shape;
  for (const engine of wanted) {
    if (engine !== "tesserae" && engine !== "tesserae-unfused") continue;
    const fuse = engine === "tesserae";
    const plan = compileProgram(c.program, { fuse, storage, tilings: fuse ? tilings : undefined, target });
    const t0 = performance.now();
    const executor = await Executor.load(ctx, plan, c.weights);
    const t1 = performance.now();
    const cold = await executor.run(c.inputs);
    const flops = plan.kernels.reduce((a, k) => a + kernelCost(plan.graph, k, env).flops, 0);
    const weightBytes = plan.graph.nodes.reduce(
      (a, n) => a + (n.op.kind === "param" ? n.shape.reduce<number>((x, d) => x * (d as number), storage === "f16" ? 2 : 4) : 0),
      0,
    );
    const record: BenchRecord = {
      graph: c.name,
      preset: c.preset,
      input: `${shape.join("x")}`,
      dtype: storage,
      engine,
      adapter: target.tuningKey,
      runs,
      median_ms: 0,
      min_ms: 0,
      gflops: flops / 1e9,
      kernels: [],
      compile_ms: t1 - t0,
      cold_ms: cold.ms,
      weight_bytes: weightBytes,
    };
    engines.push({ record, executor, plan, times: [] });
    log(
      `  ${record.engine}: ${plan.kernels.length} kernels, pipelines+upload ${(t1 - t0).toFixed(0)} ms, cold run ${cold.ms.toFixed(0)} ms`,
    );
  }
  const peers: Peer[] = [];
  const reference = engines.length > 0 ? (await engines[0].executor.run(c.inputs)).outputs : null;
  for (const engine of wanted) {
    if (!(PEERS as readonly string[]).includes(engine)) continue;
    // A peer that fails (an operator it cannot run, outputs that disagree) is reported and left out;
    // the other engines still run.
    const peer = await ortPeer(c, engine as PeerName, env, shape, runs, reference, log).catch((e: unknown) => {
      log(`  ${engine}: FAILED, left out: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      return null;
    });
    if (peer) peers.push(peer);
  }
  for (let i = 0; i < runs; i++) {
    for (const e of engines) e.times.push((await e.executor.run(c.inputs)).ms);
    for (const p of peers) {
      const t0 = performance.now();
      await p.session.run(p.feeds);
      p.times.push(performance.now() - t0);
    }
  }
  for (const p of peers) {
    p.record.median_ms = median(p.times);
    p.record.min_ms = Math.min(...p.times);
    p.record.gflops = p.record.gflops / (p.record.median_ms / 1e3);
    await p.session.release();
    log(`  ${p.record.engine}: median ${p.record.median_ms.toFixed(1)} ms, min ${p.record.min_ms.toFixed(1)} ms`);
  }
  for (const e of engines) {
    const profiled = await e.executor.run(c.inputs, { profile: true });
    const totalFlops = e.record.gflops * 1e9;
    e.record.median_ms = median(e.times);
    e.record.min_ms = Math.min(...e.times);
    e.record.gflops = totalFlops / 1e9 / (e.record.median_ms / 1e3);
    e.record.kernels = e.plan.kernels.map((k, i) => {
      const cost = kernelCost(e.plan.graph, k, env, e.plan.storage);
      const ms = profiled.kernelMs?.[i] ?? NaN;
      return {
        name: k.name,
        kind: k.kind,
        gpu_ms: ms,
        gflops: cost.flops / 1e6 / ms,
        gbps: cost.bytes / 1e6 / ms,
        ...(k.tuning ? { tiling: k.tuning.tiling } : {}),
      };
    });
    e.executor.dispose();
    log(
      `  ${e.record.engine}: median ${e.record.median_ms.toFixed(1)} ms, min ${e.record.min_ms.toFixed(1)} ms, ${e.record.gflops.toFixed(2)} GFLOP/s`,
    );
  }
  return [...engines.map((e) => e.record), ...peers.map((p) => p.record)];
}

/**
 * An ONNX Runtime session on the graph exported to ONNX (same weights, same inputs), after a warm-up
 * run whose outputs must agree with Tesserae's; null (with a line in the log) when it cannot run.
 */
async function ortPeer(
  c: BenchCase,
  engine: PeerName,
  env: Record<string, number>,
  shape: number[],
  runs: number,
  reference: Map<string, HostTensor> | null,
  log: (s: string) => void,
): Promise<Peer | null> {
  const g = c.program.graph;
  let model: Uint8Array;
  try {
    model = exportOnnx(g, c.weights, env);
  } catch (e) {
    if (!(e instanceof OnnxExportError)) throw e;
    log(`  ${engine}: skipped: ${e.message}`);
    return null;
  }
  const t0 = performance.now();
  // onnxruntime-node and onnxruntime-web have the same API; each session is fed its own package's tensors.
  const api = engine === "ort-web-webgpu" ? await ortWeb() : await onnxRuntime();
  const create = (): Promise<PeerSession> =>
    api.InferenceSession.create(
      model,
      engine === "ort-cpu" ? { executionProviders: ["cpu"], intraOpNumThreads: 2 } : { executionProviders: ["webgpu"] },
    );
  const created = engine === "ort-web-webgpu" ? await withEventLoopAwake(create) : await create();
  const session: PeerSession =
    engine === "ort-web-webgpu" ? { run: (f) => withEventLoopAwake(() => created.run(f)), release: () => created.release() } : created;
  const feeds = Object.fromEntries(
    g.inputs.map((i) => {
      const t = c.inputs.get(i.name) as HostTensor;
      return [
        i.name,
        g.nodes[i.node].dtype === "i32"
          ? new api.Tensor("int32", Int32Array.from(t.data), t.shape)
          : new api.Tensor("float32", t.data as Float32Array, t.shape),
      ];
    }),
  );
  const cold = performance.now();
  const out = await session.run(feeds);
  const t1 = performance.now();
  if (reference) {
    for (const [name, want] of reference) {
      const got = out[name];
      const scale = want.data.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      const diff = maxAbsDiff({ shape: [...got.dims], data: Float32Array.from(got.data as Float32Array) }, want);
      if (!(diff <= PEER_AGREEMENT * scale))
        throw new Error(`${engine} disagrees with Tesserae on '${name}' of ${c.name}: max |diff| ${diff} (largest value ${scale})`);
    }
  }
  const record: BenchRecord = {
    graph: c.name,
    preset: c.preset,
    input: shape.join("x"),
    dtype: "f32",
    engine,
    adapter: PEER_ADAPTERS[engine],
    runs,
    median_ms: 0,
    min_ms: 0,
    gflops: graphFlops(c.program, env) / 1e9,
    kernels: [],
    compile_ms: cold - t0,
    cold_ms: t1 - cold,
    weight_bytes: 0,
  };
  log(`  ${engine}: session ${(cold - t0).toFixed(0)} ms, cold run ${(t1 - cold).toFixed(0)} ms, outputs agree with Tesserae`);
  return { record, session, feeds, times: [] };
}

const PEER_ADAPTERS: Record<PeerName, string> = {
  "ort-cpu": "CPU (MLAS, 2 threads)",
  "ort-node-webgpu": "ONNX Runtime's own Dawn, same Vulkan device",
  "ort-web-webgpu": "dawn.node (npm webgpu), same device as Tesserae",
};

/** FLOPs of the graph at these dims (the unfused plan's, one primitive per kernel). */
function graphFlops(program: Program, env: Record<string, number>): number {
  const plan = compileProgram(program, { fuse: false, storage: "f32" });
  return plan.kernels.reduce((a, k) => a + kernelCost(plan.graph, k, env).flops, 0);
}
