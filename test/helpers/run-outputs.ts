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

/** A graph run as a Hugging Face processor and model would be, checked against the reference they wrote. */
export interface ProcessorRun {
  graph: string;
  fixture: string;
  /** Name of test/fixtures/reference/<reference>.safetensors. */
  reference: string;
  images: string[];
  /** --set flags: what the processor's call asked for. */
  sets?: string[];
  /** Float outputs within TOL (pixel_values is always compared, within 1e-6). */
  outputs: string[];
  /** Integer tensors equal to the reference's, by --out name (and the reference's name where it differs). */
  integers?: (string | [string, string])[];
  /** Run with the reference's metadata prompt; input_ids (and position_ids, rope_delta where it has them) equal. */
  prompt?: boolean;
  /** Outputs compared when run again from the reference's own pixel values (and geometry tensors). */
  fromPixelValues?: string[];
  /** That run takes the prompt too, its input_ids equal: the geometry tensors tell the layout every item. */
  layoutFromPixelValues?: boolean;
}

/** Runs `c` from images and, when asked, from the processor's tensors; returns both --out paths. */
export async function expectProcessorRun(c: ProcessorRun): Promise<{ out: string; again: string }> {
  const ref = `test/fixtures/reference/${c.reference}.safetensors`;
  const meta = SafetensorsFile.open(ref).metadata;
  const prompt = c.prompt ? ["--prompt", meta.prompt as string] : [];
  const common = [c.graph, "--weights", `test/fixtures/${c.fixture}`, ...(c.sets ?? [])];
  const out = join(tmp, `${c.reference}.safetensors`);
  const r = await tesserae("run", ...common, ...prompt, ...c.images.flatMap((i) => ["--image", `test/fixtures/images/${i}`]), "--out", out);
  expect(r.code, r.stderr).toBe(0);
  expectClose(read(out, "pixel_values"), read(ref, "pixel_values"), 1e-6);
  for (const name of c.integers ?? []) {
    const [ours, theirs] = typeof name === "string" ? [name, name] : name;
    expect(SafetensorsFile.open(out).readIntegers(ours)).toEqual(SafetensorsFile.open(ref).readIntegers(theirs));
  }
  for (const name of c.outputs) expectClose(read(out, name), read(ref, name));
  if (c.prompt) {
    const layout = readLayout(out);
    expect(layout.input_ids).toEqual(JSON.parse(meta.input_ids as string));
    if (meta.position_ids) expect(layout.position_ids).toEqual(JSON.parse(meta.position_ids as string));
    if (meta.rope_delta) expect(layout.rope_delta).toBe(Number(meta.rope_delta));
  }
  const again = join(tmp, `${c.reference}-pixels.safetensors`);
  if (c.fromPixelValues) {
    const p = await tesserae("run", ...common, ...(c.layoutFromPixelValues ? prompt : []), "--pixel-values", ref, "--out", again);
    expect(p.code, p.stderr).toBe(0);
    for (const name of c.fromPixelValues) expectClose(read(again, name), read(ref, name));
    if (c.layoutFromPixelValues) expect(readLayout(again).input_ids).toEqual(JSON.parse(meta.input_ids as string));
  }
  return { out, again };
}

/** The token layout `run --out FILE` wrote beside FILE. */
export function readLayout(out: string): { input_ids: number[]; position_ids?: number[][]; rope_delta?: number } {
  return JSON.parse(readFileSync(out.replace(/\.safetensors$/, ".layout.json"), "utf8")) as {
    input_ids: number[];
    position_ids?: number[][];
    rope_delta?: number;
  };
}
