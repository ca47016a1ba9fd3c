// `npm run bench:compile [graph...]`: what a new machine pays before a model's first result. Up to four
// distinct pipelines of each kernel kind per graph (the CPU class's plan at its default size) are created
// and run once, one workgroup on scratch buffers, in an empty Mesa shader cache, and the time to the
// end of that dispatch is summed by kind: on lavapipe the pipeline is compiled by LLVM at its first
// dispatch, and this is most of a cold `npm test`. The environment is the caller's (the tests set
// GALLIVM_PERF=nopt; compare with it set and unset).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cache = mkdtempSync(join(tmpdir(), "tesserae-mesa-cache-"));
// Before the driver is loaded (the imports below open no device).
process.env.MESA_SHADER_CACHE_DIR = cache;
const { compile } = await import("../api/compile.ts");
const { compileProgram } = await import("../compiler/compile.ts");
const { getGpu } = await import("../runtime/node.ts");
const { pipelineFor } = await import("../runtime/executor/pipelines.ts");

const PER_KIND = 4;
const graphs = process.argv.slice(2).length ? process.argv.slice(2) : ["vit", "clip", "siglip", "qwen2-vl"];
const ctx = await getGpu();
const { device } = ctx;
const target = { features: ctx.features, subgroupMinSize: ctx.subgroupMinSize, targetClass: "cpu" as const };

interface Picked {
  kind: string;
  name: string;
  reads: number;
  checksRange: boolean;
}
const picked = new Map<string, Picked>();
for (const graph of graphs) {
  const plan = compileProgram(compile(graph).program, { fuse: true, storage: "f32", target });
  const perKind = new Map<string, number>();
  for (const k of plan.kernels) {
    if ((perKind.get(k.kind) ?? 0) >= PER_KIND || picked.has(k.wgsl)) continue;
    perKind.set(k.kind, (perKind.get(k.kind) ?? 0) + 1);
    picked.set(k.wgsl, { kind: k.kind, name: `${graph}/${k.name}`, reads: k.reads.length, checksRange: k.checksRange === true });
  }
}

async function firstDispatch(wgsl: string, k: Picked): Promise<number> {
  const start = performance.now();
  const pipeline = await pipelineFor(device, wgsl, k.name, k.reads, k.checksRange);
  const slots = Number(/array<vec4<u32>, (\d+)>/.exec(wgsl)?.[1] ?? 1);
  const buffer = (size: number, usage: number): GPUBufferBinding => ({ buffer: device.createBuffer({ size, usage }) });
  const entries: GPUBindGroupEntry[] = [];
  for (let i = 0; i <= k.reads; i++) entries.push({ binding: i, resource: buffer(1 << 16, GPUBufferUsage.STORAGE) });
  entries.push({ binding: k.reads + 1, resource: buffer(16 * slots, GPUBufferUsage.UNIFORM) });
  if (k.checksRange) entries.push({ binding: k.reads + 2, resource: buffer(16, GPUBufferUsage.STORAGE) });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
  pass.dispatchWorkgroups(1, 1, 1);
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

const byKind = new Map<string, { count: number; ms: number }>();
for (const [wgsl, k] of picked) {
  const ms = await firstDispatch(wgsl, k);
  const total = byKind.get(k.kind) ?? { count: 0, ms: 0 };
  byKind.set(k.kind, { count: total.count + 1, ms: total.ms + ms });
}
rmSync(cache, { recursive: true, force: true });
console.log(`${ctx.adapterName}, GALLIVM_PERF=${process.env.GALLIVM_PERF ?? ""}: ${graphs.join(", ")}`);
let all = 0;
for (const [kind, { count, ms }] of byKind) {
  all += ms;
  console.log(
    `  ${kind.padEnd(10)} ${String(count).padStart(3)} pipelines  ${(ms / 1000).toFixed(2).padStart(6)} s  ${(ms / count).toFixed(0).padStart(5)} ms each`,
  );
}
console.log(`  all        ${String(picked.size).padStart(3)} pipelines  ${(all / 1000).toFixed(2).padStart(6)} s`);
process.exit(0);
