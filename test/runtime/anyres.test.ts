import { describe, expect, it } from "vitest";
import { anyresTiles, padViews, unpadViews } from "../../runtime/image/anyres-batch.ts";
import { anyresViews, llavaNextAssembly, llavaNextTokens, patchOutputSize, unpaddedMosaic } from "../../runtime/image/anyres.ts";

const PINPOINTS: [number, number][] = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
];
const blank = (width: number, height: number) => ({ width, height, data: new Uint8Array(width * height * 3).fill(200) });

describe("LLaVA-NeXT anyres (transformers' LlavaNextImageProcessor and pack_image_features)", () => {
  it("the image is resized into the best pinpoint by ceil, capped at the target", () => {
    expect(patchOutputSize(600, 800, 672, 672)).toEqual([504, 672]);
    expect(patchOutputSize(71, 45, 60, 60)).toEqual([60, 39]);
    expect(patchOutputSize(47, 61, 60, 60)).toEqual([47, 60]);
  });

  it.each([
    // width x height: tiles (w, h), tokens = 576 + unpadded rows x (columns + 1)
    [800, 600, [2, 2], 2340],
    [1920, 1080, [2, 2], 1948],
    // A square image ties between 336x672 and 672x336: the first listed wins.
    [336, 336, [2, 1], 576 + 24 * 25],
    [1000, 300, [3, 1], 576 + 22 * 73],
    [300, 1000, [1, 3], 576 + 72 * 23],
  ])("%i x %i: tiles %j, %i tokens", (w, h, tiles, tokens) => {
    const views = anyresViews(blank(w, h), 336, PINPOINTS);
    expect(views.tiles).toEqual(tiles);
    expect(views.views).toHaveLength(1 + tiles[0] * tiles[1]);
    expect(llavaNextTokens(h, w, views.tiles, 24)).toBe(tokens);
  });

  it("unpadding cuts rows for wide images and columns for tall ones; padding is black", () => {
    expect(unpaddedMosaic(600, 800, [2, 2], 24)).toEqual({ rows: [6, 42], cols: [0, 48] });
    expect(unpaddedMosaic(1000, 300, [1, 3], 24)).toEqual({ rows: [0, 72], cols: [1, 23] });
    const { views } = anyresViews(blank(800, 600), 336, PINPOINTS);
    // The first tile's top rows are padding (504 of 672 rows are image, 84 black above).
    expect(Array.from(views[1].data.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(views[1].data[(100 * 336 + 10) * 3]).toBe(200);
  });

  it("assembly rows: the base view's tokens, then mosaic rows each ending in the newline row", () => {
    const rows = llavaNextAssembly([{ size: [4, 8], tiles: [2, 1] }], 2);
    // 3 views of 2x2 tokens = 12 rows, the newline is row 12; a 4x8 image fills the 2x4 mosaic fully.
    expect(rows).toEqual([0, 1, 2, 3, 4, 5, 8, 9, 12, 6, 7, 10, 11, 12]);
  });
});

describe("LLaVA-NeXT pixel values in the processor's padded [images, max_views, 3, H, W] form", () => {
  const step = { op: "anyres" as const, tile: 336, pinpoints: PINPOINTS, side: 24 };
  // A 2x2 mosaic (5 views) and a 1x3 one (4 views): the second image's fifth view is padding.
  const tiles = [anyresTiles(step, [600, 800]), anyresTiles(step, [900, 300])];
  const flat = { shape: [9, 1, 1, 2], data: Float32Array.from({ length: 18 }, (_, i) => i + 1) };

  it("tiles follow from image_sizes as image_size_to_num_patches counts them", () => {
    expect(tiles).toEqual([
      [2, 2],
      [1, 3],
    ]);
  });

  it("pads each image to the most views with zeros, and unpadding gives the flat views back", () => {
    const padded = padViews(flat, tiles);
    expect(padded.shape).toEqual([2, 5, 1, 1, 2]);
    expect(Array.from(padded.data.subarray(10))).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 0, 0]);
    expect(unpadViews(padded, tiles)).toEqual(flat);
  });

  it("names the mismatch when image_sizes and the batch disagree", () => {
    const padded = padViews(flat, tiles);
    expect(() => unpadViews(padded, tiles.slice(0, 1))).toThrow("pixel_values [2, 5, 1, 1, 2] holds 2 images, but image_sizes has 1 rows");
    expect(() => unpadViews({ shape: [2, 4, 1, 1, 2], data: new Float32Array(16) }, tiles)).toThrow(
      "image 0 of pixel_values needs 5 views (its image_sizes row gives 2x2 tiles), but the batch holds 4 per image",
    );
  });
});
