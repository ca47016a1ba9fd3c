import { describe, expect, it } from "vitest";
import { Qwen2VLImageProcessor, RawImage } from "@huggingface/transformers";
import { compileFile } from "../../compiler/frontend.ts";
import { readImage, type RgbImage } from "../../runtime/image/decode.ts";
import { imageInputs } from "../../runtime/inputs.ts";

// transformers.js's Qwen2VLImageProcessor is an independent implementation of the processor: smart_resize,
// resize, rescale, normalize, temporal tiling and the 9-D patch permutation.
const processor = new Qwen2VLImageProcessor({
  do_resize: true,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  do_convert_rgb: true,
  resample: 3,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  min_pixels: 3136,
  max_pixels: 12845056,
  size: { shortest_edge: 3136, longest_edge: 12845056 },
  patch_size: 14,
  temporal_patch_size: 2,
  merge_size: 2,
});
const program = compileFile("graphs/qwen2-vl.tsr");

async function both(img: RgbImage): Promise<{ ours: Float32Array; theirs: Float32Array; ourGrid: number[]; theirGrid: number[] }> {
  const out = await processor(new RawImage(new Uint8ClampedArray(img.data), img.width, img.height, 3));
  const ours = imageInputs(program, [img], ["image"]);
  return {
    ours: ours.pixels.data as Float32Array,
    theirs: out.pixel_values.data as Float32Array,
    ourGrid: ours.grids[0],
    theirGrid: (out.image_grid_thw.tolist() as bigint[][])[0].map(Number),
  };
}

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([(i * 7) % 256, (i * 13 + (i % width)) % 256, (i * 29) % 251], 3 * i);
  return { width, height, data };
}

describe("Qwen2-VL preprocessing against transformers.js", () => {
  it.each([
    [84, 56],
    [56, 196],
    [252, 112],
  ])("%i x %i (already a multiple of 28: no resampling): pixel_values and grid identical", async (w, h) => {
    const r = await both(gradient(w, h));
    expect(r.ourGrid).toEqual(r.theirGrid);
    expect(r.ours.length).toBe(r.theirs.length);
    let max = 0;
    for (let i = 0; i < r.ours.length; i++) max = Math.max(max, Math.abs(r.ours[i] - r.theirs[i]));
    expect(max).toBeLessThan(1e-6);
  });

  it.each(["demo.png", "small.jpg", "video/frame1.png"])(
    "%s: same grid; pixels within the two resamplers' difference (PIL bicubic vs sharp)",
    async (name) => {
      const r = await both(await readImage(`test/fixtures/images/${name}`));
      expect(r.ourGrid).toEqual(r.theirGrid);
      let sum = 0;
      for (let i = 0; i < r.ours.length; i++) sum += Math.abs(r.ours[i] - r.theirs[i]);
      // Measured: mean |diff| 1e-4 (640x480 -> 644x476) to 0.016 (90x60 -> 84x56), in normalized units.
      expect(sum / r.ours.length).toBeLessThan(0.03);
    },
  );

  it("70 x 70: Python's round(2.5) = 2 gives 56 x 56 (the official processor); transformers.js's Math.round gives 84 x 84", async () => {
    const r = await both(gradient(70, 70));
    expect(r.ourGrid).toEqual([1, 4, 4]);
    expect(r.theirGrid).toEqual([1, 6, 6]);
  });
});
