// Embedding throughput: `embedCollection` (batches sized by memory, images decoded on worker threads
// while the GPU runs the previous batch) against calling `run` once per image on the same loaded model,
// side by side in one process on the same images, for ViT-B/16 and CLIP B/32 sized graphs (random weights).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { embedCollection } from "../api/dataset/embed.ts";
import { compile, load } from "../api/index.ts";
import { getGpu } from "../runtime/device.ts";
import { syntheticImage } from "./synthetic.ts";

interface EmbedCase {
  graph: string;
  preset: string;
  label: string;
  images: number;
}

export interface EmbedRecord {
  model: string;
  images: number;
  batch: number;
  embed_images_per_s: number;
  run_per_image_images_per_s: number;
  speedup: number;
  /** embed's rate in GFLOP/s (the graph's FLOPs per image, from the plan) and its fraction of Tesserae's best matmul on this adapter. */
  embed_gflops: number;
  of_peak: number | null;
  adapter: string;
}

const CASES: EmbedCase[] = [
  { graph: "clip", preset: "b32", label: "CLIP ViT-B/32-224", images: Number(process.env.EMBED_IMAGES ?? 32) },
  { graph: "vit", preset: "base16", label: "ViT-B/16-224", images: Number(process.env.EMBED_IMAGES ?? 16) },
];

/** PNG photos-to-be of mixed sizes (256 to 639 pixels a side), as a collection on disk. */
function writeImages(dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: count }, (_, i) => {
    const [w, h] = [256 + ((i * 97) % 384), 256 + ((i * 61) % 384)];
    const rgb = syntheticImage(w, h);
    const png = new PNG({ width: w, height: h });
    for (let p = 0; p < w * h; p++) {
      png.data.set(rgb.data.subarray(3 * p, 3 * p + 3), 4 * p);
      png.data[4 * p + 3] = 255;
    }
    const path = join(dir, `img-${String(i).padStart(4, "0")}.png`);
    writeFileSync(path, PNG.sync.write(png));
    return path;
  });
}

export async function benchEmbedding(log: (s: string) => void, dir = process.env.BENCH_OUT ?? "bench/results"): Promise<EmbedRecord[]> {
  const gpu = await getGpu();
  const root = mkdtempSync(join(tmpdir(), "tesserae-bench-embed-"));
  // Tesserae's best matmul on this adapter, as the main benchmark measured it (bench/results/peaks.json).
  const peaksFile = join(dir, "peaks.json");
  const peaks = existsSync(peaksFile) ? (JSON.parse(readFileSync(peaksFile, "utf8")) as { adapter: string; matmul_gflops: number }) : null;
  const peak = peaks?.adapter === gpu.adapterName ? peaks.matmul_gflops : null;
  const records: EmbedRecord[] = [];
  try {
    for (const c of CASES) {
      const paths = writeImages(join(root, c.graph), c.images);
      const quiet = { onWarning: () => {} };
      // Warm-up: the pipelines compile once, before either measurement.
      const compiled = compile(c.graph, { preset: c.preset, outputs: ["image_embeds"] });
      const flops = compiled.kernels.reduce((sum, k) => sum + k.flops, 0);
      const model = await load(compiled, quiet);
      await model.run([paths[0]]);
      const t0 = performance.now();
      for (const p of paths) await model.run([p]);
      const perImage = (c.images * 1000) / (performance.now() - t0);
      model.dispose();
      const summary = await embedCollection({
        graph: c.graph,
        preset: c.preset,
        inputs: [join(root, c.graph)],
        out: join(root, `${c.graph}.db`),
        ...quiet,
      });
      const record: EmbedRecord = {
        model: c.label,
        images: c.images,
        batch: Math.min(summary.batchSize, c.images),
        embed_images_per_s: summary.imagesPerSecond,
        run_per_image_images_per_s: perImage,
        speedup: summary.imagesPerSecond / perImage,
        embed_gflops: (summary.imagesPerSecond * flops) / 1e9,
        of_peak: peak ? (summary.imagesPerSecond * flops) / 1e9 / peak : null,
        adapter: gpu.adapterName,
      };
      log(
        `${c.label}: embed ${record.embed_images_per_s.toFixed(2)} images/s (batches of ${record.batch}), run once per image ${perImage.toFixed(2)} images/s: ${record.speedup.toFixed(2)}x`,
      );
      records.push(record);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "embed.json"), `${JSON.stringify(records, null, 2)}\n`);
  const rows = records.map(
    (r) =>
      `| ${r.model} | ${r.images} | ${r.batch} | ${r.embed_images_per_s.toFixed(2)} | ${r.run_per_image_images_per_s.toFixed(2)} | ${r.speedup.toFixed(2)}x | ${r.embed_gflops.toFixed(2)} | ${r.of_peak === null ? "-" : `${(100 * r.of_peak).toFixed(0)}%`} |`,
  );
  const table = [
    `Adapter: ${gpu.adapterName}. \`embedCollection\` against \`run\` once per image on the same loaded model, the same PNG files (256 to 639 pixels a side), one process, side by side; random weights. "of peak": embed's GFLOP/s against Tesserae's best matmul on this adapter (bench/results/peaks.json).`,
    "",
    "| model | images | batch | embed images/s | run per image, images/s | embed / run | embed GFLOP/s | of peak |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
  writeFileSync(join(dir, "embed.md"), table);
  return records;
}

// Run by itself (`npm run bench:embed`); bundled into bench/device.sh's benchmark every module shares one URL.
if (import.meta.url.endsWith("/bench/embed.ts") && import.meta.url === `file://${process.argv[1]}`) {
  await benchEmbedding((s) => process.stderr.write(`${s}\n`));
  process.exit(0);
}
