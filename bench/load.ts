// `npm run bench:load`: a service's view of one device. Requests (a decoded 224x224 image each, so host
// preprocessing is part of every request) are kept N in flight on one loaded model; per model and N:
// requests per second and latency percentiles, into bench/results/load.json, load.md and load.svg.
import { mkdirSync, writeFileSync } from "node:fs";
import { compile, load, type Model } from "../api/index.ts";
import { syntheticImage } from "./synthetic.ts";

interface LoadCase {
  graph: string;
  preset: string;
  label: string;
}

export interface LoadRecord {
  model: string;
  concurrency: number;
  requests: number;
  requests_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  adapter: string;
}

const CASES: LoadCase[] = [
  { graph: "clip", preset: "b32", label: "CLIP ViT-B/32-224" },
  { graph: "vit", preset: "base16", label: "ViT-B/16-224" },
];
const CONCURRENCY = (process.env.LOAD_CONCURRENCY ?? "1,2,4,8,16").split(",").map(Number);
/** Requests per measurement: enough that every one of N in flight completes several. */
const requestsFor = (n: number): number => Math.max(Number(process.env.LOAD_REQUESTS ?? 16), 2 * n);

/** The q-quantile of sorted values (nearest rank). */
const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];

async function measure(model: Model, concurrency: number, requests: number): Promise<Omit<LoadRecord, "model" | "adapter">> {
  const image = syntheticImage(224, 224);
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next++;
      const t0 = performance.now();
      await model.run([image]);
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    requests,
    requests_per_s: requests / seconds,
    p50_ms: quantile(latencies, 0.5),
    p95_ms: quantile(latencies, 0.95),
    p99_ms: quantile(latencies, 0.99),
  };
}

function markdown(records: readonly LoadRecord[]): string {
  const rows = records.map(
    (r) =>
      `| ${r.model} | ${r.concurrency} | ${r.requests} | ${r.requests_per_s.toFixed(2)} | ${r.p50_ms.toFixed(0)} | ${r.p95_ms.toFixed(0)} | ${r.p99_ms.toFixed(0)} |`,
  );
  return ["| model | in flight | requests | requests/s | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|---:|", ...rows].join(
    "\n",
  );
}

/** Requests per second and p95 latency against requests in flight, one line per model. */
function chart(records: readonly LoadRecord[]): string {
  const models = [...new Set(records.map((r) => r.model))];
  const colors = ["#2563eb", "#dc2626", "#16a34a", "#f97316"];
  const [w, h, pad] = [640, 300, 50];
  const xs = [...new Set(records.map((r) => r.concurrency))].sort((a, b) => a - b);
  const x = (n: number): number => pad + ((w / 2 - pad - 20) * xs.indexOf(n)) / Math.max(1, xs.length - 1);
  const panel = (metric: "requests_per_s" | "p95_ms", dx: number, title: string): string[] => {
    const max = Math.max(...records.map((r) => r[metric]));
    const y = (v: number): number => h - pad - ((h - 2 * pad) * v) / max;
    const lines = models.map((m, i) => {
      const pts = records.filter((r) => r.model === m).map((r) => `${(dx + x(r.concurrency)).toFixed(1)},${y(r[metric]).toFixed(1)}`);
      return `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${pts.join(" ")}"/>`;
    });
    const ticks = xs.map((n) => `<text x="${(dx + x(n)).toFixed(1)}" y="${h - pad + 16}" text-anchor="middle">${n}</text>`);
    return [
      `<text x="${dx + pad}" y="30" font-weight="bold">${title} (max ${max.toFixed(metric === "p95_ms" ? 0 : 2)})</text>`,
      `<line x1="${dx + pad}" y1="${h - pad}" x2="${dx + w / 2 - 20}" y2="${h - pad}" stroke="#64748b"/>`,
      `<text x="${dx + w / 4}" y="${h - 12}" text-anchor="middle">requests in flight</text>`,
      ...ticks,
      ...lines,
    ];
  };
  const legend = models.map((m, i) => `<text x="${pad + 220 * i}" y="${h + 12}" fill="${colors[i % colors.length]}">${m}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h + 24}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${[...panel("requests_per_s", 0, "requests/s"), ...panel("p95_ms", w / 2, "p95 latency, ms"), ...legend].join("\n")}
</svg>
`;
}

async function main(): Promise<void> {
  const records: LoadRecord[] = [];
  for (const c of CASES) {
    const model = await load(compile(c.graph, { preset: c.preset }), { seed: 0 });
    // One request first: the driver compiles the pipelines on their first use, which is not load.
    await model.run([syntheticImage(224, 224)]);
    for (const n of CONCURRENCY) {
      const r = { model: c.label, adapter: model.adapter, ...(await measure(model, n, requestsFor(n))) };
      records.push(r);
      process.stderr.write(
        `${c.label}: ${n} in flight, ${r.requests} requests: ${r.requests_per_s.toFixed(2)}/s, p50 ${r.p50_ms.toFixed(0)} ms, p95 ${r.p95_ms.toFixed(0)} ms, p99 ${r.p99_ms.toFixed(0)} ms\n`,
      );
    }
    model.dispose();
  }
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/load.json", `${JSON.stringify(records, null, 2)}\n`);
  writeFileSync("bench/results/load.md", `${markdown(records)}\n`);
  writeFileSync("bench/results/load.svg", chart(records));
  process.stdout.write(`${markdown(records)}\n\nadapter: ${records[0]?.adapter ?? "?"}\n`);
}

await main();
