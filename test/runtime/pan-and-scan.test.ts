import { describe, expect, it } from "vitest";
import { panAndScan } from "../../runtime/image/pan-and-scan.ts";

describe("pan_and_scan (Gemma3ImageProcessor)", () => {
  it.each([
    // (width, height, min crop) -> the crops' (height, width), as Gemma3ImageProcessor.pan_and_scan cuts them.
    [
      61,
      47,
      8,
      [
        [47, 31],
        [47, 30],
      ],
    ],
    [
      45,
      71,
      8,
      [
        [36, 45],
        [35, 45],
      ],
    ],
    [
      150,
      50,
      8,
      [
        [50, 50],
        [50, 50],
        [50, 50],
      ],
    ],
    [100, 100, 8, []],
    [600, 100, 256, []],
    [
      2000,
      600,
      256,
      [
        [600, 667],
        [600, 667],
        [600, 666],
      ],
    ],
    [300, 1500, 256, Array(4).fill([375, 300])],
    [61, 47, 32, []],
  ])("%i x %i with crops of at least %i px: %j", (w, h, minCrop, want) => {
    const img = { width: w, height: h, data: new Uint8Array(w * h * 3) };
    expect(panAndScan(img, minCrop, 4, 1.2).map((c) => [c.height, c.width])).toEqual(want);
  });

  it("cuts the pixels at the crop's place", () => {
    const img = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => Math.floor(i / 3)) };
    const [, right] = panAndScan(img, 1, 4, 1.2);
    expect(Array.from(right.data.filter((_, i) => i % 3 === 0))).toEqual([2, 3, 6, 7]);
  });
});
