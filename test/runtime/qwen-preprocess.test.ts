import { describe, expect, it } from "vitest";
import { compileFile } from "../../compiler/frontend.ts";
import { mergeOrder, pythonRound, qwenPatches, qwenRope, qwenWindows, smartResize, unpadRows } from "../../runtime/image/qwen.ts";
import { interpTaps } from "../../runtime/image/interp-taps.ts";
import { frameIndices, framePixelCap, smartNframes, type VideoRules } from "../../runtime/image/video.ts";
import { preprocessVideo } from "../../runtime/preprocess.ts";
import { reliable } from "../helpers/reliability.ts";

// Spec towers-b §7.1: input H x W -> H' x W' for the HF class default (max 1,003,520 pixels) and the
// shipped configs / qwen-vl-utils (max 12,845,056); min 3136 for both.
const HF_DEFAULT = { factor: 28, minPixels: 3136, maxPixels: 1_003_520 };
const SHIPPED = { factor: 28, minPixels: 3136, maxPixels: 12_845_056 };

describe("Qwen2-VL smart_resize", () => {
  it.each([
    [224, 224, [224, 224], [224, 224]],
    [56, 84, [56, 84], [56, 84]],
    [480, 640, [476, 644], [476, 644]],
    [375, 500, [364, 504], [364, 504]],
    [720, 1280, [728, 1288], [728, 1288]],
    [1080, 1920, [728, 1316], [1092, 1932]],
    [3024, 4032, [840, 1148], [3024, 4032]],
    [2048, 2048, [980, 980], [2044, 2044]],
    [4000, 6000, [812, 1204], [2912, 4368]],
    [1000, 5600, [420, 2352], [1008, 5600]],
    [50, 9000, [56, 8988], [56, 8988]],
    [100, 100, [112, 112], [112, 112]],
    [28, 28, [56, 56], [56, 56]],
    [30, 40, [56, 84], [56, 84]],
    [20, 20, [56, 56], [56, 56]],
    [70, 70, [56, 56], [56, 56]],
    [126, 126, [112, 112], [112, 112]],
    [42, 100, [56, 112], [56, 112]],
  ])("%i x %i", (h, w, hfDefault, shipped) => {
    expect(smartResize(h, w, HF_DEFAULT)).toEqual(hfDefault);
    expect(smartResize(h, w, SHIPPED)).toEqual(shipped);
  });

  it("rounds halves to even as Python does", () => {
    expect([0.5, 1.5, 2.5, 3.5, -2.5, 2.4, 2.6].map(pythonRound)).toEqual([0, 2, 2, 4, -2, 2, 3]);
  });

  it("refuses aspect ratios above 200, naming the image", () => {
    expect(() => smartResize(10, 2100, SHIPPED, "image wide.png")).toThrow("image wide.png: 2100x10 has an aspect ratio above 200");
    reliable({
      area: "images",
      case: "extreme aspect ratio for Qwen2-VL (2100x10)",
      tried: 1,
      outcome: "one error naming the image, as smart_resize's ValueError",
    });
  });
});

describe("Qwen2-VL patch order", () => {
  it("groups 2x2 merge windows, windows row-major (spec §7.3, grid 1x4x6) and flattens like the Conv3d weight (§1.3)", () => {
    // A 56 x 84 image whose pixels encode (channel, y, x).
    const [H, W] = [56, 84];
    const data = new Float32Array(3 * H * W);
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[(c * H + y) * W + x] = c * 1e6 + y * 1000 + x;
    const { patches, grid } = qwenPatches({ shape: [3, H, W], data }, 2, 14, 2);
    expect(grid).toEqual([1, 4, 6]);
    expect(patches.shape).toEqual([24, 3 * 2 * 14 * 14]);
    const expectedRows = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      [0, 4],
      [0, 5],
      [1, 4],
      [1, 5],
      [2, 0],
      [2, 1],
      [3, 0],
      [3, 1],
      [2, 2],
      [2, 3],
      [3, 2],
      [3, 3],
      [2, 4],
      [2, 5],
      [3, 4],
      [3, 5],
    ];
    const cols = patches.shape[1];
    expectedRows.forEach(([h, w], r) => {
      // Column k = ((c*2 + tp)*14 + py)*14 + px: check a few, including the duplicated frame (tp = 1).
      for (const [c, tp, py, px] of [
        [0, 0, 0, 0],
        [2, 1, 13, 13],
        [1, 1, 5, 7],
      ]) {
        const k = ((c * 2 + tp) * 14 + py) * 14 + px;
        expect(patches.data[r * cols + k]).toBe(c * 1e6 + (h * 14 + py) * 1000 + (w * 14 + px));
      }
    });
  });
});

describe("Qwen2.5-VL window index (spec §7.4)", () => {
  const w = (grids: [number, number, number][]) => qwenWindows(grids, 2, 4);
  const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

  it.each([
    [[[1, 4, 6]], range(0, 5), [0, 24]],
    [
      [[1, 12, 12]],
      [
        0, 1, 2, 3, 6, 7, 8, 9, 12, 13, 14, 15, 18, 19, 20, 21, 4, 5, 10, 11, 16, 17, 22, 23, 24, 25, 26, 27, 30, 31, 32, 33, 28, 29, 34,
        35,
      ],
      [0, 64, 96, 128, 144],
    ],
    [
      [[1, 16, 16]],
      [
        ...range(0, 3),
        ...range(8, 11),
        ...range(16, 19),
        ...range(24, 27),
        ...range(4, 7),
        ...range(12, 15),
        ...range(20, 23),
        ...range(28, 31),
        ...range(32, 35),
        ...range(40, 43),
        ...range(48, 51),
        ...range(56, 59),
        ...range(36, 39),
        ...range(44, 47),
        ...range(52, 55),
        ...range(60, 63),
      ],
      [0, 64, 128, 192, 256],
    ],
  ] as [[number, number, number][], number[], number[]][])("grid %j", (grids, units, bounds) => {
    expect(w(grids).units).toEqual(units);
    expect(w(grids).bounds).toEqual(bounds);
  });

  it("window boundaries for larger, repeated and mixed grids", () => {
    expect(w([[1, 20, 28]]).bounds).toEqual([0, 64, 128, 192, 224, 288, 352, 416, 448, 480, 512, 544, 560]);
    expect(w([[2, 12, 12]]).bounds).toEqual([0, 64, 96, 128, 144, 208, 240, 272, 288]);
    const mixed = w([
      [1, 4, 6],
      [1, 12, 12],
    ]);
    expect(mixed.bounds).toEqual([0, 24, 88, 120, 152, 168]);
    expect(mixed.units.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("inverse permutation (argsort) for (1, 12, 12)", () => {
    expect(w([[1, 12, 12]]).inverse).toEqual([
      0, 1, 2, 3, 16, 17, 4, 5, 6, 7, 18, 19, 8, 9, 10, 11, 20, 21, 12, 13, 14, 15, 22, 23, 24, 25, 26, 27, 32, 33, 28, 29, 30, 31, 34, 35,
    ]);
  });
});

describe("Qwen video frames (towers-b §2.4, test vectors §7.2)", () => {
  const rulesOf = (graph: string): VideoRules => {
    const step = compileFile(`graphs/${graph}.tsr`).preprocess.find((s) => s.op === "video_frames");
    if (step?.op !== "video_frames") throw new Error(`${graph} has no video_frames step`);
    return step;
  };
  const q2 = rulesOf("qwen2-vl");
  const q25 = rulesOf("qwen2.5-vl");

  it("smart_nframes at 2 fps: both utils versions", () => {
    for (const rules of [q2, q25]) {
      expect([
        smartNframes(300, 30, rules),
        smartNframes(90, 30, rules),
        smartNframes(1800, 30, rules),
        smartNframes(40, 25, rules),
        smartNframes(7, 30, rules),
      ]).toEqual([20, 6, 120, 4, 4]);
    }
    expect(frameIndices(90, 6)).toEqual([0, 18, 36, 53, 71, 89]);
    expect(() => smartNframes(1, 30, q25)).toThrow(/need between 2 and 1/);
  });

  it("per-frame pixel caps: 20 frames of 480x640 -> 476x644; 768 frames -> 280x364 (Qwen2-VL utils), 420x560 (Qwen2.5-VL utils)", () => {
    const size = (n: number, rules: VideoRules, h: number, w: number): [number, number] =>
      smartResize(h, w, { factor: 28, minPixels: rules.minPixels, maxPixels: framePixelCap(n, rules) });
    expect(framePixelCap(20, q25)).toBe(602112);
    expect(size(20, q25, 480, 640)).toEqual([476, 644]);
    expect(size(20, q25, 1080, 1920)).toEqual([560, 1008]);
    expect(framePixelCap(768, q2)).toBe(105369);
    expect(size(768, q2, 480, 640)).toEqual([280, 364]);
    expect(framePixelCap(768, q25)).toBe(235200);
    expect(size(768, q25, 480, 640)).toEqual([420, 560]);
  });

  it("a video through the graph's preprocessing: 20 frames of 640x480 -> grid (10, 34, 46), 3910 tokens; sampled from 90 frames at 30 fps", () => {
    const program = compileFile("graphs/qwen2.5-vl.tsr");
    const frame = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3).fill(90) };
    const clip = preprocessVideo(program.preprocess, Array<typeof frame>(20).fill(frame), "clip");
    expect(clip.grid).toEqual([10, 34, 46]);
    expect((clip.grid[0] * clip.grid[1] * clip.grid[2]) / 4).toBe(3910);
    expect(clip.secondsPerGrid).toBe(1);
    const small = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3) };
    // 90 frames at 30 fps: 6 sampled, so 3 grid steps of 1 s each (2 frames at 2 fps).
    const sampled = preprocessVideo(program.preprocess, Array<typeof small>(90).fill(small), "clip", 30);
    expect(sampled.grid[0]).toBe(3);
    expect(sampled.secondsPerGrid).toBe(1);
    // An odd count is padded by repeating the last frame.
    expect(preprocessVideo(program.preprocess, Array<typeof small>(5).fill(small), "clip").grid[0]).toBe(3);
    expect(() => preprocessVideo(compileFile("graphs/clip.tsr").preprocess, [small], "clip")).toThrow(/takes no video/);
  });
});

describe("Pixtral's patch order: unpadding and merge windows", () => {
  it("gives each image's patches' rows in the zero-padded batch, image by image", () => {
    // Grids 2x3 and 1x2 padded to 2x3 each: image 1's rows start at 6.
    expect(
      Array.from(
        unpadRows([
          [1, 2, 3],
          [1, 1, 2],
        ]).data,
      ),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(
      Array.from(
        unpadRows([
          [1, 1, 2],
          [1, 2, 1],
        ]).data,
      ),
    ).toEqual([0, 1, 4, 6]);
  });

  it("lists each 2x2 window's patches row-major, windows in raster order (torch's unfold over the grid)", () => {
    // A 2x4 grid: windows (0,1,4,5) and (2,3,6,7); then a 2x2 image after it.
    expect(
      Array.from(
        mergeOrder(
          [
            [1, 2, 4],
            [1, 2, 2],
          ],
          2,
        ).data,
      ),
    ).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 10, 11]);
  });

  it("makes Pixtral's axial rotary table: height on the even frequencies, width on the odd ones", () => {
    const cos = qwenRope([[1, 1, 2]], 8, 100, 1, "cos", true);
    // Patch (0, 1): head_dim 8, frequencies 100^(-j/4) for j = 0..3; height takes j = 0, 2 (angle 0), width j = 1, 3.
    const w = [1, 3].map((j) => Math.fround(Math.cos(Math.fround(1 / Math.fround(100 ** (j / 4))))));
    expect(Array.from(cos.data.slice(8, 16))).toEqual([1, 1, w[0], w[1], 1, 1, w[0], w[1]].map((v) => expect.closeTo(v, 6)));
  });
});

describe("Qwen3-VL's position table taps (get_vision_interpolation_indices_and_weights, bilinear, align_corners)", () => {
  it("puts each grid's corners on the table's corners and blends between them, patches in merge-block order", () => {
    // A 2x2 grid on a 3x3 table: the four corners, each one tap of weight 1 (the others 0).
    const index = Array.from(interpTaps([[1, 2, 2]], 3, 2, "index").data);
    const weight = Array.from(interpTaps([[1, 2, 2]], 3, 2, "weight").data);
    const cornerOf = (p: number): number => index[4 * p + weight.slice(4 * p, 4 * p + 4).indexOf(1)];
    expect([0, 1, 2, 3].map(cornerOf)).toEqual([0, 2, 6, 8]);
    // A 1x4 grid... as 2x4 (merge 2) on a 2x2 table: column 1 sits a third of the way, (1 - 1/3, 1/3).
    const w = interpTaps([[1, 2, 4]], 2, 2, "weight").data;
    expect(Array.from(w.slice(4, 8))).toEqual([2 / 3, 1 / 3, 0, 0].map((v) => expect.closeTo(v, 6)));
  });
});
