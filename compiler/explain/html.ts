import type { ExplainReport } from "./report.ts";
import { summarizeOps } from "./text.ts";

const COLORS: Record<string, string> = { matmul: "#dbeafe", attention: "#fde68a", row: "#dcfce7", pointwise: "#f3e8ff" };
const flops = (x: number): string => (x >= 1e8 ? `${(x / 1e9).toFixed(2)} GFLOP` : `${(x / 1e6).toFixed(2)} MFLOP`);
const clip = (s: string, chars: number): string => (s.length > chars ? `${s.slice(0, Math.max(0, chars - 1))}…` : s);
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * A self-contained page: each kernel a box (its fused ops, FLOPs, bytes and source lines), stacked in
 * execution order, with an arc from every kernel to each later kernel that reads its output.
 */
export function formatHtml(r: ExplainReport): string {
  const boxH = 54;
  const gap = 14;
  const left = 140;
  const width = 900;
  const y = (i: number): number => 20 + i * (boxH + gap);
  const producer = new Map(r.kernels.map((k) => [k.writes.node, k.index]));
  const arcs: string[] = [];
  for (const k of r.kernels) {
    for (const read of k.reads) {
      const from = producer.get(read.node);
      if (from === undefined) continue;
      const y1 = y(from) + boxH / 2;
      const y2 = y(k.index) + boxH / 2;
      const bend = Math.min(left - 10, 24 + (k.index - from) * 10);
      arcs.push(
        `<path d="M ${left} ${y1} C ${left - bend} ${y1}, ${left - bend} ${y2}, ${left} ${y2}" class="arc"><title>${esc(`${read.name} ${read.shape}: ${r.kernels[from].name} -> ${k.name}`)}</title></path>`,
      );
    }
  }
  const boxes = r.kernels.map((k) => {
    const weights = k.reads.filter((rd) => !producer.has(rd.node)).map((rd) => rd.name);
    const title = [
      `${k.name} (${k.kind})`,
      `ops: ${k.ops.join(" ")}`,
      `reads: ${k.reads.map((rd) => `${rd.name} ${rd.shape}`).join(", ")}`,
      `writes: ${k.writes.name} ${k.writes.shape}`,
      ...k.sourceDetail,
    ].join("\n");
    return `<g class="kernel"><title>${esc(title)}</title>
  <rect x="${left}" y="${y(k.index)}" width="${width - left - 10}" height="${boxH}" rx="8" fill="${COLORS[k.kind] ?? "#eee"}" stroke="#94a3b8"/>
  <text x="${left + 10}" y="${y(k.index) + 18}" class="name">${esc(k.name)}  <tspan class="dim">${flops(k.flops)} · ${(k.bytes / 2 ** 20).toFixed(2)} MiB · ${esc(k.source.join(", "))}</tspan></text>
  <text x="${left + 10}" y="${y(k.index) + 36}" class="ops">${esc(summarizeOps(k.ops))}</text>
  <text x="${left + 10}" y="${y(k.index) + 49}" class="dim">${esc(clip(weights.length ? `weights/inputs: ${weights.join(", ")}` : "", (width - left - 30) / 6.2))}</text>
</g>`;
  });
  const height = y(r.kernels.length) + 20;
  const dims = Object.entries(r.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(r.graph)}: ${r.totals.kernels} kernels</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #0f172a; }
.name { font-weight: 600; font-size: 13px; } .ops { font-family: ui-monospace, monospace; font-size: 12px; }
.dim { fill: #475569; font-size: 11px; font-weight: 400; } .arc { fill: none; stroke: #64748b; stroke-width: 1.2; opacity: .6; }
.kernel:hover rect { stroke: #0f172a; stroke-width: 2; } .legend span { display: inline-block; padding: 2px 8px; border-radius: 6px; margin-right: 6px; }
</style></head><body>
<h1>${esc(r.graph)} <small>(${esc(r.file)})</small></h1>
<p>${r.totals.kernels} kernels (${r.totals.pipelines} distinct pipelines)${r.fused ? "" : ", unfused"} · ${(r.totals.flops / 1e9).toFixed(2)} GFLOP · ${(r.totals.bytes / 2 ** 20).toFixed(1)} MiB moved · at ${esc(dims)}</p>
<p class="legend">${Object.entries(COLORS)
    .map(([k, c]) => `<span style="background:${c}">${k}</span>`)
    .join("")} Arcs: a kernel's output read by a later kernel. Hover for details.</p>
<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
${arcs.join("\n")}
${boxes.join("\n")}
</svg>
</body></html>
`;
}
