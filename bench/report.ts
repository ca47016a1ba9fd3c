import type { BenchRecord } from "./measure.ts";
import type { Peaks } from "./peak.ts";

function engineRates(p: Peaks): string {
  const rates = Object.entries(p.engine_matmul ?? {}).map(([engine, r]) => `${engine} ${r.gflops.toFixed(1)} GFLOP/s (${r.shape})`);
  return rates.length ? rates.join(", ") : "not measured";
}

/** The measured limits, as a paragraph for the results. */
export function peaksText(p: Peaks): string {
  const cpu = p.cpu_sgemm_gflops === null ? "not measured (no onnxruntime-node)" : `${p.cpu_sgemm_gflops.toFixed(1)} GFLOP/s`;
  return `Measured limits on this adapter: FMA-only ceiling ${p.fma_gflops.toFixed(1)} GFLOP/s; Tesserae's best matmul (${p.matmul_shape}) ${p.matmul_gflops.toFixed(1)} GFLOP/s (${((100 * p.matmul_gflops) / p.fma_gflops).toFixed(0)}% of the ceiling); the host CPU's sgemm (ONNX Runtime CPU, ${p.cpu_threads} threads) ${cpu}. The same linears run whole by each WebGPU engine (wall clock, inputs in and outputs back), best shape: ${engineRates(p)}. "of peak" reads each rate against Tesserae's best matmul kernel, or for ort-cpu against the CPU's sgemm.\n`;
}

/** Latency per graph and engine, with the fused/unfused ratio measured in the same run; with `peaks`, each rate as a fraction of them. */
export function markdownTable(records: readonly BenchRecord[], peaks?: Peaks): string {
  const lines = [
    `Adapter: ${records[0]?.adapter ?? "?"}`,
    "",
    ...(peaks ? [peaksText(peaks), ""] : []),
    `| graph | input | dtype | engine | kernels | median ms | min ms | GFLOP/s |${peaks ? " of peak |" : ""} summed kernel GPU ms | speed-up vs unfused (median) | time / Tesserae's (median) |`,
    `|---|---|---|---|---|---|---|---|${peaks ? "---|" : ""}---|---|---|`,
  ];
  for (const r of records) {
    // Ratios against the f32 runs of the same graph in the same run (f16 rows against f32 ones too).
    const same = (engine: string): BenchRecord | undefined =>
      records.find((u) => u.graph === r.graph && u.dtype === "f32" && u.engine === engine);
    const unfused = same("tesserae-unfused");
    const fused = same("tesserae");
    const ratio = unfused ? `${(unfused.median_ms / r.median_ms).toFixed(2)}x` : "";
    const versus = fused ? `${(r.median_ms / fused.median_ms).toFixed(2)}x` : "";
    const peer = r.engine.startsWith("ort-");
    const gpu = peer ? "-" : r.kernels.reduce((a, k) => a + k.gpu_ms, 0).toFixed(0);
    // A rate reads against the peak of the device it ran on: the CPU's sgemm for ONNX Runtime's CPU provider.
    const peak = peaks ? (r.engine === "ort-cpu" ? peaks.cpu_sgemm_gflops : peaks.matmul_gflops) : null;
    const share = peaks ? ` ${peak ? `${((100 * r.gflops) / peak).toFixed(0)}%` : "-"} |` : "";
    lines.push(
      `| ${r.graph} | ${r.input} | ${r.dtype} | ${r.engine} | ${peer ? "-" : r.kernels.length} | ${r.median_ms.toFixed(1)} | ${r.min_ms.toFixed(1)} | ${r.gflops.toFixed(2)} |${share} ${gpu} | ${ratio} | ${versus} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}
