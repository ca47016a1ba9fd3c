import { describe, expect, it } from "vitest";
import { flatPatches, maxPatchesSize, patchMask, positionWeights } from "../../runtime/image/naflex.ts";

describe("SigLIP 2 NaFlex preprocessing (Siglip2ImageProcessor)", () => {
  it.each([
    // (width, height) -> get_image_size_for_max_num_patches(height, width, 16, 256) as (width, height).
    [640, 480, [288, 224]],
    [45, 71, [208, 304]],
    [150, 50, [432, 144]],
    [3000, 50, [1920, 32]],
    [20, 10, [352, 176]],
    [256, 256, [256, 256]],
  ])("%i x %i resizes to %j", (w, h, want) => {
    expect(maxPatchesSize(w, h, 16, 256)).toEqual(want);
  });

  it("flattens each patch (row, column, channel), patches in raster order, zero rows after them", () => {
    // A 3-channel 2 x 4 image of 2 px patches: value = channel * 100 + y * 10 + x.
    const data = Float32Array.from({ length: 24 }, (_, i) => Math.floor(i / 8) * 100 + Math.floor((i % 8) / 4) * 10 + (i % 4));
    const { rows, grid } = flatPatches({ shape: [3, 2, 4], data }, 2, 3, "img");
    expect(grid).toEqual([1, 1, 2]);
    expect(rows.shape).toEqual([3, 12]);
    expect(Array.from(rows.data.slice(12, 18))).toEqual([2, 102, 202, 3, 103, 203]);
    expect(Array.from(rows.data.slice(24))).toEqual(Array(12).fill(0));
    expect(() => flatPatches({ shape: [3, 2, 4], data }, 2, 1, "img.png")).toThrow(/image img.png: 2 patches of 2 px, more than the 1/);
  });

  it("masks each image's real rows and resizes the table with weights that sum to one; padding repeats row 0", () => {
    expect(Array.from(patchMask([[1, 1, 2]], 4).data)).toEqual([1, 1, 0, 0]);
    const same = positionWeights([[1, 2, 2]], 2, 5);
    // The table's own size: each cell takes itself.
    expect(Array.from(same.data.slice(0, 16))).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(Array.from(same.data.slice(16, 20))).toEqual([1, 0, 0, 0]);
    const down = positionWeights([[1, 1, 3]], 4, 3).data;
    for (let r = 0; r < 3; r++) expect(down.slice(r * 16, (r + 1) * 16).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });
});
