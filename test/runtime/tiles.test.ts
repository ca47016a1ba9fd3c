import { describe, expect, it } from "vitest";
import { padSquare } from "../../runtime/preprocess.ts";
import { DEEPSEEK_VL2_CANDIDATES, deepseekVl2Tokens, padGeometry, selectBestResolution } from "../../runtime/image/tiles.ts";

// Spec towers-b §7.6: input W x H -> best (w, h), tiles, tokens per image, global view size and offset.
describe("DeepSeek-VL2 tiling", () => {
  it.each([
    [384, 384, [384, 384], 421, [384, 384], [0, 0]],
    [100, 200, [384, 384], 421, [192, 384], [96, 0]],
    [640, 480, [768, 768], 1023, [384, 288], [0, 48]],
    [800, 600, [1152, 768], 1415, [384, 288], [0, 48]],
    [600, 800, [768, 1152], 1429, [288, 384], [48, 0]],
    [768, 768, [768, 768], 1023, [384, 384], [0, 0]],
    [1000, 1000, [1152, 1152], 2017, [384, 384], [0, 0]],
    [1024, 1024, [1152, 1152], 2017, [384, 384], [0, 0]],
    [1280, 720, [1536, 768], 1807, [384, 216], [0, 84]],
    [1920, 1080, [1536, 768], 1807, [384, 216], [0, 84]],
    [1080, 1920, [768, 1536], 1835, [216, 384], [84, 0]],
    [2000, 1000, [1536, 768], 1807, [384, 192], [0, 96]],
    [3000, 500, [2304, 384], 1401, [384, 64], [0, 160]],
    [500, 3000, [384, 2304], 1471, [64, 384], [160, 0]],
    [4000, 3000, [1152, 1152], 2017, [384, 288], [0, 48]],
  ])("%i x %i", (w, h, best, tokens, globalSize, globalOffset) => {
    const [bw, bh] = selectBestResolution(w, h, DEEPSEEK_VL2_CANDIDATES);
    expect([bw, bh]).toEqual(best);
    expect(deepseekVl2Tokens(bw / 384, bh / 384)).toBe(tokens);
    expect(padGeometry(w, h, 384, 384)).toEqual({ size: globalSize, offset: globalOffset });
  });

  it("local canvases: 800x600 -> 1024x768 at (64, 0); 1920x1080 -> 1365x768 at (86, 0) (round(85.5) = 86)", () => {
    expect(padGeometry(800, 600, 1152, 768)).toEqual({ size: [1024, 768], offset: [64, 0] });
    expect(padGeometry(1920, 1080, 1536, 768)).toEqual({ size: [1365, 768], offset: [86, 0] });
  });

  it("has the 23 candidates {(m·384, n·384) : m·n <= 9}", () => {
    expect(DEEPSEEK_VL2_CANDIDATES).toHaveLength(23);
    expect(DEEPSEEK_VL2_CANDIDATES.every(([w, h]) => (w / 384) * (h / 384) <= 9)).toBe(true);
  });
});

describe("DeepSeek-VL v1 resize and pad (VLMImageProcessor, towers-b §7.7; transformers' processors round)", () => {
  it.each([
    [800, 600, 1024, [1024, 768], [0, 128], "trunc"],
    [333, 500, 1024, [682, 1024], [171, 0], "round"],
    // 13 · (100 / 40) = 32.5: Python's round goes to the even 32.
    [13, 40, 100, [32, 100], [34, 0], "round"],
    [40, 13, 100, [100, 32], [0, 34], "round"],
    [600, 800, 1024, [768, 1024], [128, 0]],
    [1920, 1080, 1024, [1024, 576], [0, 224]],
    [50, 3000, 1024, [17, 1024], [503, 0]],
    [333, 500, 1024, [681, 1024], [171, 0]],
    [800, 600, 384, [384, 288], [0, 48]],
    [50, 3000, 384, [14, 384], [185, 0]],
  ] as const)("%i x %i at %i: resized to %j, pasted at %j (%s)", (w, h, size, resized, at, rounding: "trunc" | "round" = "trunc") => {
    // A white image on the background: where the white lands shows the resize and the paste.
    const step = { op: "pad_square" as const, size, background: [122, 116, 104], minSide: 14, rounding };
    const out = padSquare({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(255) }, step);
    expect([out.width, out.height]).toEqual([size, size]);
    const white = (x: number, y: number): boolean => out.data[(y * size + x) * 3] === 255 && out.data[(y * size + x) * 3 + 1] === 255;
    const [x0, y0] = at;
    const [rw, rh] = resized;
    expect(white(x0, y0) && white(x0 + rw - 1, y0 + rh - 1)).toBe(true);
    if (x0 > 0) expect(white(x0 - 1, y0)).toBe(false);
    if (y0 > 0) expect(white(x0, y0 - 1)).toBe(false);
    if (x0 + rw < size) expect(white(x0 + rw, y0)).toBe(false);
    if (y0 + rh < size) expect(white(x0, y0 + rh)).toBe(false);
    expect(Array.from(out.data.subarray(0, 3))).toEqual(x0 > 0 || y0 > 0 ? [122, 116, 104] : [255, 255, 255]);
  });
});
