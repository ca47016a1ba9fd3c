import type { BenchRecord } from "./measure.ts";
import type { Peaks } from "./peak.ts";

const COLORS: Record<string, string> = {
  tesserae: "#2563eb",
  "tesserae-unfused": "#94a3b8",
  "ort-cpu": "#16a34a",
  "ort-node-webgpu": "#dc2626",
  "ort-web-webgpu": "#f97316",
  matmul: "#60a5fa",
  attention: "#f59e0b",
  row: "#34d399",
  pointwise: "#c084fc",
};
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

const label = (r: BenchRecord): string => `${r.graph} ${r.dtype} · ${r.engine}`;

/** Room for the longest row label (about 6.5 px a character at 12 px), so none runs off the left edge. */
const labelRoom = (records: readonly BenchRecord[]): number => 24 + Math.ceil(6.5 * Math.max(0, ...records.map((r) => label(r).length)));

function frame(width: number, height: number, title: string, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="16" y="22" font-size="14" font-weight="600">${esc(title)}</text>
${body.join("\n")}
</svg>
`;
}

/** Median latency per graph and engine (bars), min as a tick. */
export function latencyChart(records: readonly BenchRecord[]): string {
  const rowH = 22;
  const left = labelRoom(records);
  const width = left + 500;
  const max = Math.max(...records.map((r) => r.median_ms));
  const scale = (ms: number): number => ((width - left - 90) * ms) / max;
  const body = records.map((r, i) => {
    const y = 40 + i * (rowH + 6);
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(label(r))}</text>
<rect x="${left}" y="${y}" width="${scale(r.median_ms).toFixed(1)}" height="${rowH}" fill="${COLORS[r.engine] ?? "#999"}"/>
<line x1="${(left + scale(r.min_ms)).toFixed(1)}" x2="${(left + scale(r.min_ms)).toFixed(1)}" y1="${y - 2}" y2="${y + rowH + 2}" stroke="#0f172a"/>
<text x="${(left + scale(r.median_ms) + 6).toFixed(1)}" y="${y + 15}">${r.median_ms.toFixed(0)} ms</text>`;
  });
  return frame(
    width,
    50 + records.length * (rowH + 6),
    `Latency, median of ${records[0]?.runs ?? "?"} runs (tick: min) — ${records[0]?.adapter.slice(0, 60) ?? ""}`,
    body,
  );
}

/** GPU time per engine split by kernel kind (from timestamp queries). */
export function kernelBreakdownChart(records: readonly BenchRecord[]): string {
  const rowH = 22;
  const left = labelRoom(records);
  const width = left + 500;
  const totals = records.map((r) => r.kernels.reduce((a, k) => a + k.gpu_ms, 0));
  const max = Math.max(...totals);
  const kinds = ["matmul", "attention", "row", "pointwise"];
  const body: string[] = [];
  records.forEach((r, i) => {
    const y = 40 + i * (rowH + 6);
    body.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(label(r))}</text>`);
    let x = left;
    for (const kind of kinds) {
      const ms = r.kernels.filter((k) => k.kind === kind).reduce((a, k) => a + k.gpu_ms, 0);
      const w = ((width - left - 90) * ms) / max;
      if (w > 0)
        body.push(
          `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH}" fill="${COLORS[kind]}"><title>${kind}: ${ms.toFixed(1)} ms</title></rect>`,
        );
      x += w;
    }
    body.push(`<text x="${(x + 6).toFixed(1)}" y="${y + 15}">${totals[i].toFixed(0)} ms</text>`);
  });
  const legendY = 48 + records.length * (rowH + 6);
  kinds.forEach((k, i) =>
    body.push(
      `<rect x="${left + i * 110}" y="${legendY}" width="12" height="12" fill="${COLORS[k]}"/><text x="${left + i * 110 + 16}" y="${legendY + 11}">${k}</text>`,
    ),
  );
  return frame(width, legendY + 24, "Summed kernel GPU time by kernel kind (timestamp queries)", body);
}

/**
 * Achieved GFLOP/s of every run on the adapter (ONNX Runtime's CPU provider runs on another device and
 * is left out), against the adapter's limits measured in the same run: the FMA-only ceiling and
 * Tesserae's best matmul kernel (vertical lines).
 */
export function rateChart(records: readonly BenchRecord[], peaks: Peaks): string {
  const rows = records.filter((r) => r.engine !== "ort-cpu");
  const rowH = 22;
  const left = labelRoom(rows);
  const width = left + 560;
  const max = Math.max(peaks.fma_gflops, ...rows.map((r) => r.gflops));
  const x = (gflops: number): number => left + ((width - left - 90) * gflops) / max;
  const top = 40;
  const bottom = top + rows.length * (rowH + 6);
  const body = rows.map((r, i) => {
    const y = top + i * (rowH + 6);
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(label(r))}</text>
<rect x="${left}" y="${y}" width="${(x(r.gflops) - left).toFixed(1)}" height="${rowH}" fill="${COLORS[r.engine] ?? "#999"}"/>
<text x="${(x(r.gflops) + 6).toFixed(1)}" y="${y + 15}">${r.gflops.toFixed(1)}</text>`;
  });
  for (const [value, name] of [
    [peaks.fma_gflops, "FMA-only ceiling"],
    [peaks.matmul_gflops, `best matmul kernel (${peaks.matmul_shape})`],
  ] as const) {
    body.push(`<line x1="${x(value).toFixed(1)}" x2="${x(value).toFixed(1)}" y1="${top - 6}" y2="${bottom}" stroke="#0f172a" stroke-dasharray="4 3"/>
<text x="${(x(value) - 4).toFixed(1)}" y="${bottom + 16}" text-anchor="end">${esc(`${name} ${value.toFixed(1)}`)}</text>`);
  }
  return frame(width, bottom + 28, `Achieved GFLOP/s against the adapter's measured limits — ${peaks.adapter.slice(0, 60)}`, body);
}
