import { describe, expect, it } from "vitest";
import { Qwen2VLForConditionalGeneration, Tensor } from "@huggingface/transformers";
import { compileFile } from "../../compiler/frontend.ts";
import type { Layout } from "../../core/layout.ts";
import type { Grid } from "../../runtime/geometry.ts";
import { buildLayout, LayoutError } from "../../runtime/layout/sequence.ts";
import type { LayoutItem } from "../../runtime/layout/types.ts";
import { mropeAngles } from "../../runtime/layout/mrope.ts";
import type { TextTokenizer } from "../../runtime/layout/encode.ts";
import { loadTokenizer } from "../../runtime/layout/tokenizer.ts";
import { imageInputs } from "../../runtime/inputs.ts";
import { rng } from "../../runtime/weights/random.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";

const layoutOf = (graph: string, set: Record<string, string> = {}): Layout =>
  compileFile(`graphs/${graph}.tsr`, { overrides: set }).layout as Layout;
const QWEN2 = layoutOf("qwen2-vl");
const QWEN25 = layoutOf("qwen2.5-vl");
// The fixture's tokenizer: Qwen2's byte-level BPE with its added tokens; "txt" and " txt" are one token each.
const TOKENIZER = loadTokenizer("test/fixtures/qwen2-vl") as TextTokenizer;

const image = (grid: Grid, source = "img"): LayoutItem => ({ kind: "image", source, grid });
const video = (grid: Grid, secondsPerGrid?: number): LayoutItem => ({
  kind: "video",
  source: "clip",
  grid,
  ...(secondsPerGrid === undefined ? {} : { secondsPerGrid }),
});
const triples = (p: [number[], number[], number[]] | undefined): string[] =>
  (p as number[][])[0].map((_, i) => `${p?.[0][i]},${p?.[1][i]},${p?.[2][i]}`);

describe("token layouts: the spec's worked examples (towers-b §3.8)", () => {
  it("A: an image of grid (1,4,6) between two texts", () => {
    const l = buildLayout(QWEN2, [image([1, 4, 6])], "txt txt<image>txt txt", TOKENIZER);
    expect(l.length).toBe(12);
    expect(triples(l.position_ids)).toEqual([
      "0,0,0",
      "1,1,1",
      "2,2,2",
      "3,3,3",
      "3,3,4",
      "3,3,5",
      "3,4,3",
      "3,4,4",
      "3,4,5",
      "6,6,6",
      "7,7,7",
      "8,8,8",
    ]);
    expect(l.rope_delta).toBe(-3);
    expect(l.segments.map((s) => [s.kind, s.start, s.length])).toEqual([
      ["text", 0, 2],
      ["special", 2, 1],
      ["image", 3, 6],
      ["special", 9, 1],
      ["text", 10, 2],
    ]);
    expect(l.input_ids?.slice(2, 10)).toEqual([151652, ...Array(6).fill(151655), 151653]);
  });

  it("B: a video of grid (2,4,4), Qwen2-VL and Qwen2.5-VL at 2, 1 and 4 frames per second", () => {
    const prompt = "txt txt txt<video>txt txt";
    const tail = (l: ReturnType<typeof buildLayout>): string[] => triples(l.position_ids).slice(4);
    const q2 = buildLayout(QWEN2, [video([2, 4, 4])], prompt, TOKENIZER);
    expect(triples(q2.position_ids).slice(0, 4)).toEqual(["0,0,0", "1,1,1", "2,2,2", "3,3,3"]);
    expect(tail(q2)).toEqual(["4,4,4", "4,4,5", "4,5,4", "4,5,5", "5,4,4", "5,4,5", "5,5,4", "5,5,5", "6,6,6", "7,7,7", "8,8,8"]);
    expect(q2.rope_delta).toBe(-6);
    // second_per_grid_t = temporal_patch_size / fps
    const at = (fps: number): ReturnType<typeof buildLayout> => buildLayout(QWEN25, [video([2, 4, 4], 2 / fps)], prompt, TOKENIZER);
    expect(tail(at(2)).slice(4)).toEqual(["6,4,4", "6,4,5", "6,5,4", "6,5,5", "7,7,7", "8,8,8", "9,9,9"]);
    expect(at(2).rope_delta).toBe(-5);
    expect(tail(at(1))[4]).toBe("8,4,4");
    expect(tail(at(1))[8]).toBe("9,9,9");
    expect(at(1).rope_delta).toBe(-3);
    expect(tail(at(4))[4]).toBe("5,4,4");
    expect(tail(at(4))[8]).toBe("6,6,6");
  });

  it("C: two images, (1,4,4) then (1,4,6)", () => {
    const l = buildLayout(QWEN2, [image([1, 4, 4]), image([1, 4, 6])], "txt<image><image>txt", TOKENIZER);
    expect(triples(l.position_ids).join(" ")).toBe(
      "0,0,0 1,1,1 2,2,2 2,2,3 2,3,2 2,3,3 4,4,4 5,5,5 6,6,6 6,6,7 6,6,8 6,7,6 6,7,7 6,7,8 9,9,9 10,10,10",
    );
    expect(l.rope_delta).toBe(-5);
  });

  it("D: after the default system prompt, <|vision_start|> sits at index 14", () => {
    const prompt =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>Describe.<|im_end|>\n<|im_start|>assistant\n";
    const l = buildLayout(QWEN2, [image([1, 4, 6])], prompt, TOKENIZER);
    const start = l.segments.find((s) => s.kind === "special" && s.token === "<|vision_start|>");
    expect(start?.start).toBe(14);
    expect(triples(l.position_ids)[15]).toBe("15,15,15");
  });
});

describe("M-RoPE angles in the LLM (towers-b §7.5)", () => {
  it("position (3, 4, 5): frequency 0 from t, 16 from h, 40 from w", () => {
    const a = mropeAngles([3, 4, 5]);
    expect(a).toHaveLength(64);
    expect(a[0]).toBe(3);
    expect(a[16]).toBeCloseTo(0.12649110640673517, 15);
    expect(a[40]).toBeCloseTo(8.891397050194614e-4, 15);
    expect(a[15]).toBeCloseTo(3 * 1e6 ** (-30 / 128), 15);
    expect(a[39]).toBeCloseTo(4 * 1e6 ** (-78 / 128), 15);
  });
});

describe("token layouts: counts and errors", () => {
  it("image tokens per model: Qwen t·h·w/4, DeepSeek-VL2 210 + 1 + 14·nh·(14·nw + 1), LLaVA 576, Qwen-VL 256 between <img> and </img>", () => {
    expect(buildLayout(QWEN2, [image([1, 52, 92])], undefined, null).image_rows).toBe(1196);
    const ds = layoutOf("deepseek-vl2");
    const tiles = (w: number, h: number): number =>
      buildLayout(ds, [{ kind: "image", source: "x", tiles: [w, h] }], undefined, null).image_rows;
    expect([tiles(1, 1), tiles(2, 2), tiles(3, 2), tiles(2, 3), tiles(4, 2), tiles(3, 3), tiles(6, 1), tiles(1, 6)]).toEqual([
      421, 1023, 1415, 1429, 1807, 2017, 1401, 1471,
    ]);
    const llava = buildLayout(layoutOf("llava-1.5"), [{ kind: "image", source: "x" }], undefined, null);
    expect(llava.segments.map((s) => [s.kind, s.length, s.kind === "image" ? s.id : null])).toEqual([["image", 576, 32000]]);
    expect(buildLayout(layoutOf("llava-1.5", { select: "full" }), [{ kind: "image", source: "x" }], undefined, null).image_rows).toBe(577);
    const deepseekVl = buildLayout(layoutOf("deepseek-vl"), [{ kind: "image", source: "x" }], undefined, null);
    expect(deepseekVl.segments.map((s) => [s.kind, s.length, s.kind === "image" ? s.id : null])).toEqual([["image", 576, 100015]]);
    const qwenVl = buildLayout(layoutOf("qwen-vl"), [{ kind: "image", source: "x" }], undefined, null);
    expect(qwenVl.input_ids?.length).toBe(258);
    expect([qwenVl.input_ids?.[0], qwenVl.input_ids?.[1], qwenVl.input_ids?.[257]]).toEqual([151857, 151859, 151858]);
  });

  it("images from files go through the graph's preprocessing: 720x1280 gives Qwen2-VL 1196 tokens, DeepSeek-VL2 (1536,768) tiles", async () => {
    const blank = (w: number, h: number) => ({ width: w, height: h, data: new Uint8Array(w * h * 3) });
    const q = imageInputs(compileFile("graphs/qwen2-vl.tsr"), [blank(1280, 720)], ["a"]).items;
    expect(q[0].grid).toEqual([1, 52, 92]);
    const d = imageInputs(compileFile("graphs/deepseek-vl2.tsr"), [blank(1280, 720)], ["a"]).items;
    expect(d[0].tiles).toEqual([4, 2]);
    // Three images: cropping is off, one tile each.
    const three = imageInputs(
      compileFile("graphs/deepseek-vl2.tsr"),
      [blank(1280, 720), blank(64, 64), blank(800, 600)],
      ["a", "b", "c"],
    ).items;
    expect(three.map((i) => i.tiles)).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it("without a tokenizer, special tokens still get ids and text has none; the length is then unknown", () => {
    const l = buildLayout(QWEN2, [image([1, 4, 4])], "<|vision_start|>hello <image>", null);
    expect(l.segments.map((s) => s.kind)).toEqual(["special", "text", "special", "image", "special"]);
    expect(l.length).toBeNull();
    expect(l.position_ids).toBeUndefined();
    expect(buildLayout(QWEN2, [image([1, 4, 4])], undefined, null).length).toBe(6);
  });

  it("says what is wrong: mark counts, a graph without video, ids that disagree with the tokenizer", () => {
    expect(() => buildLayout(QWEN2, [image([1, 4, 4]), image([1, 4, 4])], "one <image> only", null)).toThrow(
      /1 <image> mark, but 2 images were given/,
    );
    expect(() => buildLayout(layoutOf("llava-1.5"), [video([2, 4, 4])], undefined, null)).toThrow(/no video/);
    const wrong = layoutOf("qwen2-vl", { image_token_id: "7" });
    expect(() => buildLayout(wrong, [image([1, 4, 4])], undefined, TOKENIZER)).toThrow(LayoutError);
    expect(() => buildLayout(wrong, [image([1, 4, 4])], undefined, TOKENIZER)).toThrow(/id 7 in the model's config but 151655/);
  });
});

describe("token layouts with a grid of spans (Idefics3, SmolVLM)", () => {
  const IDEFICS3 = layoutOf("idefics3", { image: "32", patch: "8" });
  const tiled = (cols: number, rows: number, source = "img"): LayoutItem => ({ kind: "image", source, tiles: [cols, rows] });

  it("gives each tile <fake_token_around_image><row_r_col_c> and a span, a newline after each row, then the global view", () => {
    const l = buildLayout(IDEFICS3, [tiled(2, 1)], undefined, null);
    const F = "<fake_token_around_image>";
    expect(
      l.segments.map((s) =>
        s.kind === "text" ? JSON.stringify(s.text) : `${s.kind === "image" ? `image#${s.index}:${s.length}` : s.token}`,
      ),
    ).toEqual([F, '"<row_1_col_1>"', "image#0:4", F, '"<row_1_col_2>"', "image#0:4", '"\\n"', '"\\n"', F, "<global-img>", "image#0:4", F]);
    expect(l.image_rows).toBe(12);
    // An image left whole (0 x 0 tiles): the global view alone.
    const whole = buildLayout(IDEFICS3, [tiled(0, 0)], undefined, null);
    expect(whole.segments.map((s) => (s.kind === "text" ? s.text : s.token))).toEqual([F, "<global-img>", "<image>", F]);
  });

  it("tokenizes to the processor's input_ids for three tiled images in one prompt", () => {
    const ref = SafetensorsFile.open("test/fixtures/reference/idefics3.safetensors").metadata;
    const tokenizer = loadTokenizer("test/fixtures/idefics3") as TextTokenizer;
    const items = [tiled(2, 2, "odd"), tiled(2, 2, "tall"), tiled(2, 1, "wide")];
    const l = buildLayout(layoutOf("idefics3", { image: "32", patch: "8", image_token_id: "290" }), items, ref.prompt as string, tokenizer);
    expect(l.input_ids).toEqual(JSON.parse(ref.input_ids as string));
    expect(l.segments.filter((s) => s.kind === "image").map((s) => (s.kind === "image" ? s.index : -1))).toEqual([
      0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2,
    ]);
  });

  it("puts Gemma 3's words around an image with pan-and-scan crops, and none around one without", () => {
    const gemma3 = layoutOf("gemma3", { tokens: "4", image: "32", patch: "8" });
    const texts = (views: number): string[] =>
      buildLayout(gemma3, [{ kind: "image", source: "img", views }], undefined, null).segments.map((s) =>
        s.kind === "text" ? s.text : s.kind === "special" ? s.token : `${s.length}`,
      );
    expect(texts(1)).toEqual(["\n\n", "<start_of_image>", "4", "<end_of_image>", "\n\n"]);
    expect(texts(3).join("")).toBe(
      "Here is the original image \n\n<start_of_image>4<end_of_image>\n\n and here are some crops to help you see better" +
        " \n\n<start_of_image>4<end_of_image>\n\n \n\n<start_of_image>4<end_of_image>\n\n",
    );
  });

  it("places PaliGemma's images before a prompt without marks, <bos> after the last image, and adds no BOS of the tokenizer's", () => {
    const ref = SafetensorsFile.open("test/fixtures/reference/paligemma-layout.safetensors").metadata;
    const tokenizer = loadTokenizer("test/fixtures/paligemma") as TextTokenizer;
    const paligemma = layoutOf("paligemma", { image: "32", patch: "8", image_token_id: "257" });
    const items = [tiled(0, 0, "a"), tiled(0, 0, "b")];
    const prompts = JSON.parse(ref.prompts as string) as string[];
    expect(prompts.map((p) => buildLayout(paligemma, items, p, tokenizer).input_ids)).toEqual(JSON.parse(ref.input_ids as string));
  });

  it("says when preprocessing gave no tile grid", () => {
    expect(() => buildLayout(IDEFICS3, [image([1, 4, 4])], undefined, null)).toThrow(
      /grid rows need tiles_h, which preprocessing did not give/,
    );
  });
});

describe("M-RoPE position ids against transformers.js get_rope_index (an independent implementation)", () => {
  // transformers.js's Qwen2-VL get_rope_index (it has no Qwen2.5-VL temporal scaling, so Qwen2-VL only).
  const oracle = Object.create(Qwen2VLForConditionalGeneration.prototype) as {
    config: object;
    get_rope_index: (...a: (Tensor | null)[]) => [Tensor, Tensor];
  };
  oracle.config = {
    vision_config: { spatial_merge_size: 2 },
    image_token_id: 151655,
    video_token_id: 151656,
    vision_start_token_id: 151652,
  };
  const int64 = (values: number[], dims: number[]): Tensor => new Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])("random prompt %i: images and videos of random grids between random texts", (seed) => {
    const r = rng(seed);
    const pick = (n: number): number => Math.floor(r() * n);
    const items: LayoutItem[] = [];
    let prompt = Array.from({ length: pick(4) }, () => " txt").join("");
    for (let i = 0; i < 1 + pick(4); i++) {
      const grid: Grid = [1 + pick(3), 2 * (1 + pick(5)), 2 * (1 + pick(5))];
      const isVideo = r() < 0.4;
      items.push(isVideo ? video(grid) : image([1, grid[1], grid[2]]));
      prompt += (isVideo ? "<video>" : "<image>") + Array.from({ length: pick(3) }, () => " txt").join("");
    }
    const ours = buildLayout(QWEN2, items, prompt, TOKENIZER);
    const ids = ours.input_ids as number[];
    const grids = (kind: string): Tensor | null => {
      const g = items.filter((i) => i.kind === kind).flatMap((i) => i.grid as Grid);
      return g.length ? int64(g, [g.length / 3, 3]) : null;
    };
    const [positions, delta] = oracle.get_rope_index(int64(ids, [1, ids.length]), grids("image"), grids("video"), null);
    const theirs = Array.from(positions.data as BigInt64Array, Number);
    expect(ours.position_ids?.flat()).toEqual(theirs);
    expect(ours.rope_delta).toBe(Number((delta.data as BigInt64Array)[0]));
  });
});
