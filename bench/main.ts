// `npm run bench`: for every graph (random weights), kernel tilings tuned on this adapter, then fused
// against unfused and the ONNX Runtime peers, side by side in one run, written to bench/results/latest.json (and a dated copy) with a Markdown table.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { compileFile } from "../compiler/frontend.ts";
import { imageInputs } from "../runtime/inputs.ts";
import { randomWeights } from "../runtime/weights/random.ts";
import { benchEngines, PEERS, type BenchRecord, type EngineName } from "./measure.ts";
import { syntheticImage } from "./synthetic.ts";
import { kernelBreakdownChart, latencyChart, rateChart } from "./charts.ts";
import { markdownTable } from "./report.ts";
import { measurePeaks, type Peaks } from "./peak.ts";
import { deviceTarget, getGpu } from "../runtime/device.ts";
import { targetChoice } from "../bin/load.ts";
import { compileProgram } from "../compiler/compile.ts";
import { autotune } from "../tune/autotune.ts";
import { loadTilings } from "../tune/cache.ts";
import { benchEmbedding } from "./embed.ts";

/**
 * Every graph, fused against unfused. The large towers run with fewer blocks than published (said in
 * the label): every block of a tower compiles to the same kernels, so the ratio per block is the same,
 * and a full so400m or Qwen2-VL tower takes minutes per run on a CPU Vulkan device.
 */
/** `runs`: at most this many timed runs (the large inputs: a run of every engine is minutes on lavapipe). */
interface Case {
  graph: string;
  preset?: string;
  set?: Record<string, string>;
  image: [number, number];
  label: string;
  runs?: number;
}

const CASES: Case[] = [
  { graph: "graphs/vit.tsr", preset: "base16", image: [224, 224], label: "ViT-B/16-224" },
  { graph: "graphs/clip.tsr", preset: "b32", image: [224, 224], label: "CLIP ViT-B/32-224" },
  { graph: "graphs/clip.tsr", preset: "l14_336", set: { layers: "4" }, image: [336, 336], label: "CLIP ViT-L/14-336 (4 of 24 blocks)" },
  {
    graph: "graphs/siglip.tsr",
    preset: "so400m14_384",
    set: { layers: "2" },
    image: [384, 384],
    label: "SigLIP so400m/14-384 (2 of 27 blocks)",
  },
  {
    graph: "graphs/llava-1.5.tsr",
    preset: "7b",
    set: { layers: "4" },
    image: [336, 336],
    label: "LLaVA-1.5 tower + projector (4 of 23 blocks)",
  },
  { graph: "graphs/qwen-vl.tsr", set: { layers: "1" }, image: [448, 448], label: "Qwen-VL bigG/14-448 + resampler (1 of 48 blocks)" },
  {
    graph: "graphs/qwen2-vl.tsr",
    preset: "7b",
    set: { depth: "2" },
    image: [448, 448],
    label: "Qwen2-VL-7B 448x448 + merger (2 of 32 blocks)",
    runs: 2,
  },
  {
    graph: "graphs/qwen2-vl.tsr",
    preset: "7b",
    set: { depth: "1" },
    image: [1280, 720],
    label: "Qwen2-VL-7B 1280x720 + merger (1 of 32 blocks)",
    runs: 1,
  },
  {
    graph: "graphs/qwen2.5-vl.tsr",
    preset: "7b",
    set: { depth: "2" },
    image: [224, 224],
    label: "Qwen2.5-VL-7B 224x224 + merger (2 of 32 blocks)",
  },
  {
    graph: "graphs/deepseek-vl2.tsr",
    preset: "tiny",
    set: { layers: "1" },
    image: [768, 768],
    label: "DeepSeek-VL2-tiny 2x2 tiles + global view + projector (1 of 27 blocks)",
    runs: 1,
  },
];

const runs = Number(process.env.BENCH_RUNS ?? "3");
const gpu = await getGpu();
// BENCH_REQUIRE_GPU=1 (bench/device.sh sets it): a software adapter is an error, not a GPU result.
if (process.env.BENCH_REQUIRE_GPU === "1" && gpu.targetClass === "cpu") {
  process.stderr.write(
    `bench: Dawn picked a software adapter (${gpu.adapterName}), not a GPU: is the GPU's Vulkan driver installed and visible ` +
      "(VK_DRIVER_FILES, the NVIDIA container's graphics capability)? Set BENCH_ALLOW_SOFTWARE=1 to measure it anyway.\n",
  );
  process.exit(3);
}
// TESSERAE_TARGET: the class whose kernels are measured (default: the adapter's own).
const target = deviceTarget(gpu, targetChoice(process.env.TESSERAE_TARGET, "TESSERAE_TARGET"));
// BENCH_TUNE: "0" uses the cache (or the defaults) only; another value tunes only the matching graphs.
const tuneOnly = process.env.BENCH_TUNE ?? "1";
const tunes = (label: string): boolean => tuneOnly === "1" || (tuneOnly !== "0" && label.includes(tuneOnly));
const only = process.env.BENCH_ONLY;
// BENCH_DTYPES: "f32,f16" (the default) runs every engine in f32 and Tesserae again with f16 storage
// (f32 arithmetic) where the adapter has shader-f16; "f16" runs only the latter.
const dtypes = (process.env.BENCH_DTYPES ?? "f32,f16").split(",");
// ONNX Runtime's CPU and both WebGPU providers on the exported graph, side by side (BENCH_PEERS=0 leaves them out).
const peers = process.env.BENCH_PEERS !== "0";
const log = (s: string): void => void process.stderr.write(`${s}\n`);
log(
  `adapter: ${gpu.adapterName} (${gpu.targetClass} class, kernels for the ${target.targetClass} class); features: ${gpu.features.join(", ") || "none"}`,
);
// BENCH_OUT: another folder for the results (the device script writes them where they come back from).
const dir = process.env.BENCH_OUT ?? "bench/results";
mkdirSync(dir, { recursive: true });
// A partial run (BENCH_ONLY, or not every dtype) replaces the records it makes, keeps the others and
// the limits the full run measured beside them.
const partial = only !== undefined || !dtypes.includes("f32") || !dtypes.includes("f16");
const earlier =
  partial && existsSync(`${dir}/latest.json`) ? (JSON.parse(readFileSync(`${dir}/latest.json`, "utf8")) as BenchRecord[]) : [];
async function machineLimits(): Promise<Peaks> {
  if (partial && existsSync(`${dir}/peaks.json`)) return JSON.parse(readFileSync(`${dir}/peaks.json`, "utf8")) as Peaks;
  log("machine limits");
  return measurePeaks(gpu, log);
}
const peaks = await machineLimits();
const records: BenchRecord[] = [];
const recordKey = (r: BenchRecord): string => `${r.graph}|${r.engine}|${r.dtype}`;
const all = (): BenchRecord[] => {
  const rerun = new Set(records.map(recordKey));
  const merged = [...earlier.filter((r) => !rerun.has(recordKey(r))), ...records];
  return merged.sort((a, b) => CASES.findIndex((c) => c.label === a.graph) - CASES.findIndex((c) => c.label === b.graph));
};
/** Written after every graph, so a long run that stops keeps what it measured. */
function save(): void {
  const json = `${JSON.stringify(all(), null, 2)}\n`;
  writeFileSync(`${dir}/latest.json`, json);
  writeFileSync(`${dir}/${new Date().toISOString().slice(0, 10)}.json`, json);
  writeFileSync(`${dir}/latency.svg`, latencyChart(all()));
  writeFileSync(`${dir}/kernels.svg`, kernelBreakdownChart(all().filter((r) => r.kernels.length > 0)));
  writeFileSync(`${dir}/rates.svg`, rateChart(all(), peaks));
  writeFileSync(`${dir}/peaks.json`, `${JSON.stringify(peaks, null, 2)}\n`);
  // This adapter's tuned choices, for the record (the live cache is tuningCachePath()).
  writeFileSync(
    `${dir}/tuning.json`,
    `${JSON.stringify({ adapter: target.tuningKey, choices: loadTilings(target.tuningKey).choices }, null, 2)}\n`,
  );
  writeFileSync(`${dir}/latest.md`, markdownTable(all(), peaks));
}
for (const c of CASES) {
  if (only && !c.label.includes(only) && !c.graph.includes(only)) continue;
  const program = compileFile(c.graph, { preset: c.preset, overrides: c.set ?? {} });
  const caseRuns = Math.min(runs, c.runs ?? runs);
  log(
    `${c.label} (${c.graph}${c.preset ? ` --preset ${c.preset}` : ""}${Object.entries(c.set ?? {})
      .map(([k, v]) => ` --set ${k}=${v}`)
      .join("")}), ${caseRuns} runs each`,
  );
  const { inputs } = imageInputs(program, [syntheticImage(...c.image)], ["synthetic"]);
  const engines: EngineName[] = peers ? ["tesserae", "tesserae-unfused", ...PEERS] : ["tesserae", "tesserae-unfused"];
  const weights = randomWeights(program.graph, 0);
  // Kernel tilings measured on this adapter (cached per adapter, so shapes measured before are not measured again).
  const tilings = tunes(c.label)
    ? (
        await autotune(gpu, {
          compile: (t) => compileProgram(program, { fuse: true, storage: "f32", tilings: t, target }),
          weights,
          inputs,
          graph: c.label,
          runs: 1,
          log,
          target,
        })
      ).table
    : loadTilings(target.tuningKey, undefined, target).table;
  if (dtypes.includes("f32"))
    records.push(
      ...(await benchEngines(
        { name: c.label, program, preset: c.preset ?? "", inputs, weights },
        { runs: caseRuns, engines, storage: "f32", tilings, target, log },
      )),
    );
  if (dtypes.includes("f16") && gpu.features.includes("shader-f16")) {
    // Same tilings (tuned in f32): the kernels differ only in their loads and stores.
    records.push(
      ...(await benchEngines(
        { name: c.label, program, preset: c.preset ?? "", inputs, weights },
        { runs: caseRuns, engines: ["tesserae"], storage: "f16", tilings, target, log },
      )),
    );
  }
  save();
}
process.stdout.write(markdownTable(all(), peaks));
// Embedding a collection against running once per image (BENCH_EMBED=0 leaves it out; `npm run bench:embed` runs only it).
if (process.env.BENCH_EMBED !== "0" && !only) await benchEmbedding(log);
