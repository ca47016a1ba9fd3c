// `npm run bench`: fused against unfused, side by side in one run, on the published sizes (random
// weights), written to bench/results/latest.json (and a dated copy) with a Markdown table.
import { mkdirSync, writeFileSync } from "node:fs";
import { compileFile } from "../compiler/frontend.ts";
import { randomTensor, randomWeights, rng } from "../runtime/weights/random.ts";
import { benchEngines, type BenchRecord } from "./measure.ts";
import { kernelBreakdownChart, latencyChart } from "./charts.ts";
import { markdownTable } from "./report.ts";

const CASES = [
  { graph: "graphs/vit.tsr", preset: "base16", label: "ViT-B/16-224" },
  { graph: "graphs/clip.tsr", preset: "b32", label: "CLIP ViT-B/32-224" },
];

const runs = Number(process.env.BENCH_RUNS ?? "3");
const log = (s: string): void => void process.stderr.write(s + "\n");
const records: BenchRecord[] = [];
for (const c of CASES) {
  const program = compileFile(c.graph, { preset: c.preset });
  const image = Number(program.config.image);
  log(`${c.label} (${c.graph} --preset ${c.preset}), ${runs} runs each`);
  const recs = await benchEngines({
    name: c.label, program, preset: c.preset,
    inputs: new Map([["pixel_values", randomTensor([1, 3, image, image], rng(1))]]),
    weights: randomWeights(program.graph, 0),
  }, { runs, engines: ["tesserae", "tesserae-unfused"], storage: "f32", log });
  records.push(...recs);
}
mkdirSync("bench/results", { recursive: true });
const json = JSON.stringify(records, null, 2) + "\n";
writeFileSync("bench/results/latest.json", json);
writeFileSync(`bench/results/${new Date().toISOString().slice(0, 10)}.json`, json);
writeFileSync("bench/results/latency.svg", latencyChart(records));
writeFileSync("bench/results/kernels.svg", kernelBreakdownChart(records));
const table = markdownTable(records);
writeFileSync("bench/results/latest.md", table);
process.stdout.write(table);
