import type { BenchRecord } from "./measure.ts";

/** Latency per graph and engine, with the fused/unfused ratio measured in the same run. */
export function markdownTable(records: readonly BenchRecord[]): string {
  const lines = [
    `Adapter: ${records[0]?.adapter ?? "?"}`,
    "",
    "| graph | input | dtype | engine | kernels | median ms | min ms | GFLOP/s | summed kernel GPU ms | speed-up vs unfused (median) |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of records) {
    const unfused = records.find((u) => u.graph === r.graph && u.dtype === r.dtype && u.engine === "tesserae-unfused");
    const ratio = unfused ? (unfused.median_ms / r.median_ms).toFixed(2) : "";
    const gpu = r.kernels.reduce((a, k) => a + k.gpu_ms, 0);
    lines.push(`| ${r.graph} | ${r.input} | ${r.dtype} | ${r.engine} | ${r.kernels.length} | ${r.median_ms.toFixed(1)} | ${r.min_ms.toFixed(1)} | ${r.gflops.toFixed(2)} | ${gpu.toFixed(0)} | ${ratio}x |`);
  }
  return lines.join("\n") + "\n";
}
