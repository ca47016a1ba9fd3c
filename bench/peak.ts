// The machine's limits, measured in the same run as the benchmarks, so every rate reads as a fraction
// of a measured peak: the adapter's arithmetic-only ceiling (FMA chains, no memory traffic), the best
// sustained matmul rate of Tesserae's own kernel, and the host CPU's sgemm through ONNX Runtime's CPU
// provider (MLAS) on a 1024^3 linear exported to ONNX, which on lavapipe is the hardware underneath the "GPU".
import { compileProgram } from "../compiler/compile.ts";
import { compileSource } from "../compiler/frontend.ts";
import { exportOnnx } from "../compiler/emit/onnx.ts";
import type { GpuContext } from "../runtime/gpu-context.ts";
import { Executor } from "../runtime/executor/executor.ts";
import { randomTensor, randomWeights, rng } from "../runtime/weights/random.ts";
import { benchEngines, type EngineName } from "./measure.ts";

export interface Peaks {
  adapter: string;
  /** FMA chains in registers: what the adapter's ALUs can do when nothing else limits them. */
  fma_gflops: number;
  /** Tesserae's best matmul kernel rate over a few tower-shaped products, GPU time from timestamp queries. */
  matmul_gflops: number;
  matmul_shape: string;
  /** ONNX Runtime CPU MatMul (2 threads here), or null where onnxruntime-node cannot be loaded. */
  cpu_sgemm_gflops: number | null;
  cpu_threads: number;
  /**
   * The same linear layers run whole by each WebGPU engine (Tesserae and the peers), timed by the
   * wall clock around one run (inputs in, outputs back: what a peer lets one measure), best shape.
   */
  engine_matmul: Partial<Record<EngineName, { gflops: number; shape: string }>>;
}

/**
 * `chains` independent vec4 FMA chains, each advanced `depth` times per loop step before it is stored
 * back: on lavapipe every update of a loop-carried variable is a masked store (blend and memory), so
 * one FMA per update measured 26-30 GFLOP/s here, where 4 to 8 nested FMAs per update measured 60-77.
 */
function fmaKernel(chains: number, depth: number, steps: number): string {
  const advance = (i: number): string => {
    let e = `a${i}`;
    for (let d = 0; d < depth; d++) e = `fma(${e}, m, c)`;
    return `    a${i} = ${e};`;
  };
  return `@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = vec4<f32>(0.9999999);
  let c = vec4<f32>(1e-7);
${Array.from({ length: chains }, (_, i) => `  var a${i} = vec4<f32>(f32(gid.x + ${i}u) * 1e-9);`).join("\n")}
  for (var i = 0u; i < ${steps}u; i = i + 1u) {
${Array.from({ length: chains }, (_, i) => advance(i)).join("\n")}
  }
  out[gid.x] = ${Array.from({ length: chains }, (_, i) => `a${i}`).join(" + ")};
}`;
}

/** The best of a few chain shapes, 16384 vec4 FMAs per invocation each. */
async function fmaCeiling(ctx: GpuContext): Promise<number> {
  let best = 0;
  for (const [chains, depth] of [
    [8, 1],
    [8, 4],
    [4, 8],
  ] as const)
    best = Math.max(best, await fmaRate(ctx, chains, depth, 16384 / (chains * depth)));
  return best;
}

async function fmaRate(ctx: GpuContext, chains: number, depth: number, steps: number): Promise<number> {
  const device = ctx.device;
  const groups = 2048;
  const invocations = groups * 64;
  const module = device.createShaderModule({ code: fmaKernel(chains, depth, steps) });
  const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
  const out = device.createBuffer({ size: invocations * 16, usage: GPUBufferUsage.STORAGE });
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
  let best = Infinity;
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(groups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    if (r > 0) best = Math.min(best, performance.now() - t0);
  }
  out.destroy();
  return (invocations * steps * chains * depth * 4 * 2) / (best / 1e3) / 1e9;
}

/** The linear layer [m, k] x [k, n] as a graph, with its weights and input. */
function linearCase([m, k, n]: readonly [number, number, number]) {
  const program = compileSource(
    "peak.tsr",
    `model peak {\n  input x: f32[1, ${m}, ${k}]\n  output y = linear(x, "w", ${n}, bias = false)\n}`,
    {},
  );
  return { program, weights: randomWeights(program.graph, 1), inputs: new Map([["x", randomTensor([1, m, k], rng(2))]]) };
}

/** Tesserae's linear layer on [m, k] x [k, n]: GPU time of its matmul kernel, best of 3 after a warm-up. */
async function matmulRate(ctx: GpuContext, [m, k, n]: readonly [number, number, number]): Promise<number> {
  const { program, weights, inputs } = linearCase([m, k, n]);
  const plan = compileProgram(program, { fuse: true, storage: "f32", target: ctx });
  const ex = await Executor.load(ctx, plan, weights);
  let best = Infinity;
  try {
    for (let r = 0; r < 4; r++) {
      const res = await ex.run(inputs, { profile: ctx.device.features.has("timestamp-query") });
      const ms = res.kernelMs ? Math.max(...res.kernelMs) : res.ms;
      if (r > 0) best = Math.min(best, ms);
    }
  } finally {
    ex.dispose();
  }
  return (2 * m * k * n) / (best / 1e3) / 1e9;
}

async function cpuSgemm(n: number, threads: number): Promise<number | null> {
  let ort: typeof import("onnxruntime-node");
  try {
    ort = await import("onnxruntime-node");
  } catch {
    return null;
  }
  // The same linear layer exported to ONNX: ONNX Runtime folds the weight's transpose at load, leaving one MatMul.
  const program = compileSource(
    "sgemm.tsr",
    `model sgemm {\n  input x: f32[${n}, ${n}]\n  output y = linear(x, "w", ${n}, bias = false)\n}`,
    {},
  );
  const session = await ort.InferenceSession.create(exportOnnx(program.graph, randomWeights(program.graph, 4), {}), {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
  });
  const feeds = { x: new ort.Tensor("float32", randomTensor([n, n], rng(3)).data, [n, n]) };
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (r > 0) best = Math.min(best, performance.now() - t0);
  }
  await session.release();
  return (2 * n * n * n) / (best / 1e3) / 1e9;
}

/** The shapes the towers' linears have (ViT-B fc1, CLIP-L fc1) and a square one; the best is the peak. */
const SHAPES = [
  [197, 768, 3072],
  [577, 1024, 4096],
  [1024, 1024, 1024],
] as const;

export async function measurePeaks(ctx: GpuContext, log: (s: string) => void): Promise<Peaks> {
  const threads = 2;
  const n = 1024;
  const fma = await fmaCeiling(ctx);
  log(`  FMA ceiling: ${fma.toFixed(1)} GFLOP/s`);
  let mm = 0;
  let shape = "";
  for (const s of SHAPES) {
    const rate = await matmulRate(ctx, s);
    log(`  Tesserae matmul ${s.join("x")}: ${rate.toFixed(1)} GFLOP/s`);
    if (rate > mm) [mm, shape] = [rate, s.join("x")];
  }
  const engines: EngineName[] = ["tesserae", "ort-node-webgpu", "ort-web-webgpu"];
  const engineMatmul: Peaks["engine_matmul"] = {};
  for (const s of SHAPES) {
    const { program, weights, inputs } = linearCase(s);
    // Peers that cannot run are left out, with a line saying why.
    const quiet = (line: string): void => void (line.includes("FAILED") && log(line));
    for (const r of await benchEngines(
      { name: s.join("x"), program, preset: "", inputs, weights },
      { runs: 3, engines, storage: "f32", log: quiet },
    )) {
      log(`  ${r.engine} matmul ${s.join("x")}, whole run: ${r.gflops.toFixed(1)} GFLOP/s`);
      const engine = r.engine as EngineName;
      if (r.gflops > (engineMatmul[engine]?.gflops ?? 0)) engineMatmul[engine] = { gflops: r.gflops, shape: s.join("x") };
    }
  }
  const cpu = await cpuSgemm(n, threads);
  log(
    `  CPU sgemm (ONNX Runtime, ${threads} threads) ${n}^3: ${cpu === null ? "onnxruntime-node not available" : `${cpu.toFixed(1)} GFLOP/s`}`,
  );
  return {
    adapter: ctx.adapterName,
    fma_gflops: fma,
    matmul_gflops: mm,
    matmul_shape: shape,
    cpu_sgemm_gflops: cpu,
    cpu_threads: threads,
    engine_matmul: engineMatmul,
  };
}
