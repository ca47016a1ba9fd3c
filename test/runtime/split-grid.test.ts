import { describe, expect, it } from "vitest";
import { longestEdgeSize, splitGrid, tileMultipleSize } from "../../runtime/image/split-grid.ts";

describe("split_grid and resize_longest (Idefics3ImageProcessor, SmolVLM)", () => {
  it.each([
    // (width, height) -> the long side to 1456, the short one int(1456 / aspect), made even.
    [640, 480, [1456, 1092]],
    [61, 47, [1456, 1122]],
    [45, 71, [922, 1456]],
    [150, 50, [1456, 486]],
    [3000, 50, [1456, 24]],
  ])("%i x %i resizes to %j, as _resize_output_size_rescale_to_max_len gives", (w, h, want) => {
    expect(longestEdgeSize(w, h, 1456, true)).toEqual(want);
  });

  it("keeps an odd short side without even, and never goes below 1 pixel", () => {
    expect(longestEdgeSize(61, 47, 64, false)).toEqual([64, 49]);
    expect(longestEdgeSize(61, 47, 64, true)).toEqual([64, 50]);
    expect(longestEdgeSize(5000, 1, 64, false)).toEqual([64, 1]);
  });

  it.each([
    // Sizes after the 1456 resize, and the processor's (rows, cols) for them (return_row_col_info).
    [1456, 1092, 4, 3],
    [922, 1456, 3, 4],
    [1456, 486, 4, 2],
    [1456, 24, 4, 1],
    [24, 1456, 1, 4],
    [1456, 1452, 4, 4],
  ])("%i x %i becomes %i columns by %i rows of 364 px tiles", (w, h, cols, rows) => {
    const [tw, th] = tileMultipleSize(w, h, 364);
    expect([tw / 364, th / 364]).toEqual([cols, rows]);
  });

  it("cuts the canvas row by row, adds the global view, and leaves a one-tile image whole", () => {
    const img = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => Math.floor(i / 3) * 10) };
    const split = splitGrid(img, 2, true, "nearest");
    expect(split.grid).toEqual([2, 1]);
    expect(split.views.map((v) => [v.width, v.height])).toEqual([
      [2, 2],
      [2, 2],
      [2, 2],
    ]);
    expect(Array.from(split.views[1].data.filter((_, i) => i % 3 === 0))).toEqual([20, 30, 60, 70]);
    expect(splitGrid({ width: 2, height: 2, data: new Uint8Array(12) }, 2, true, "nearest")).toMatchObject({ grid: [0, 0] });
    const whole = splitGrid(img, 2, false, "nearest");
    expect([whole.grid, whole.views.length, whole.views[0].width]).toEqual([[0, 0], 1, 2]);
  });
});
