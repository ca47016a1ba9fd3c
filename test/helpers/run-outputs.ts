import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { maxAbsDiff, type HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { tesserae } from "./cli.ts";

// Outputs of the independent PyTorch implementation (scripts/fixtures/make_fixtures.py), float64, vs Tesserae in f32.
export const TOL = 1e-4;
export const tmp = mkdtempSync(join(tmpdir(), "tesserae-cli-"));
export const read = (path: string, name: string): HostTensor => SafetensorsFile.open(path).read(name);
export const clipRef = "test/fixtures/reference/clip.safetensors";
export const vitRef = "test/fixtures/reference/vit.safetensors";

export function expectClose(got: HostTensor, want: HostTensor, tol = TOL): void {
  expect(got.shape).toEqual(want.shape);
  expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(tol);
}

/** Qwen2-VL rows in the processor's order (2x2 merge windows together) put in raster order, image by image. */
export function rasterRows(t: HostTensor, grids: [number, number, number][]): HostTensor {
  const width = t.shape[1];
  const data = new Float32Array(t.data.length);
  let row = 0;
  let offset = 0;
  for (const [frames, h, w] of grids) {
    for (let f = 0; f < frames; f++)
      for (let hb = 0; hb < h / 2; hb++)
        for (let wb = 0; wb < w / 2; wb++)
          for (let i = 0; i < 2; i++)
            for (let j = 0; j < 2; j++, row++) {
              const to = offset + f * h * w + (hb * 2 + i) * w + wb * 2 + j;
              data.set(t.data.subarray(row * width, (row + 1) * width), to * width);
            }
    offset += frames * h * w;
  }
  return { shape: t.shape, data };
}

/** The segments of the token layout `run --out FILE` wrote beside FILE. */
export function layoutSegments(out: string): { length: number; token: string; id: number }[] {
  return (
    JSON.parse(readFileSync(out.replace(/\.safetensors$/, ".layout.json"), "utf8")) as {
      segments: { length: number; token: string; id: number }[];
    }
  ).segments;
}

/** Runs a graph on a fixture checkpoint and images; pixel_values must match the reference exactly, the outputs within TOL. */
export async function expectRunMatches(
  graph: string,
  fixture: string,
  images: string[],
  reference: string,
): Promise<{ out: string; stderr: string }> {
  const out = join(tmp, `${fixture}.safetensors`);
  const r = await tesserae(
    "run",
    graph,
    "--weights",
    `test/fixtures/${fixture}`,
    ...images.flatMap((i) => ["--image", `test/fixtures/images/${i}`]),
    "--out",
    out,
  );
  expect(r.code, r.stderr).toBe(0);
  expectClose(read(out, "pixel_values"), read(reference, "pixel_values"), 1e-6);
  expectClose(read(out, "last_hidden_state"), read(reference, "last_hidden_state"));
  expectClose(read(out, "image_embeds"), read(reference, "image_embeds"));
  return { out, stderr: r.stderr };
}
