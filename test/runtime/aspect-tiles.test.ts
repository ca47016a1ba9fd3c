import { describe, expect, it } from "vitest";
import { aspectTiles, closestGrid, tileGrids } from "../../runtime/image/aspect-tiles.ts";

describe("crop_to_patches (GotOcr2ImageProcessor, InternVL)", () => {
  it("lists the grids by tile count, as get_all_supported_aspect_ratios does", () => {
    expect(tileGrids(1, 4)).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
      [1, 3],
      [3, 1],
      [1, 4],
      [2, 2],
      [4, 1],
    ]);
  });

  it.each([
    // 640x480 (4:3) is nearest 1:1 among 1..2 tiles, 4:3 itself among 1..12.
    [640, 480, 1, 2, [1, 1]],
    [640, 480, 1, 12, [4, 3]],
    // A tie on aspect ratio (1:1, 2:2, 3:3) goes to more tiles while the image covers over half of them.
    [1000, 1000, 1, 12, [3, 3]],
    [100, 100, 1, 12, [1, 1]],
    [50, 3000, 1, 6, [1, 6]],
  ])("%i x %i, %i to %i tiles of 448: %j", (w, h, min, max, want) => {
    expect(closestGrid(w, h, 448, min, max)).toEqual(want);
  });

  it("cuts the resized image row by row and adds a thumbnail; one view when max is 1", () => {
    const img = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => Math.floor(i / 3) * 10) };
    const views = aspectTiles(img, 2, 1, 2, true, "nearest");
    expect(views.map((v) => [v.width, v.height])).toEqual([
      [2, 2],
      [2, 2],
      [2, 2],
    ]);
    expect(Array.from(views[1].data.filter((_, i) => i % 3 === 0))).toEqual([20, 30, 60, 70]);
    expect(aspectTiles(img, 2, 1, 1, true, "nearest")).toHaveLength(1);
    expect(aspectTiles(img, 2, 1, 2, false, "nearest")).toHaveLength(2);
  });
});
