import { join } from "node:path";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { tesserae } from "../helpers/cli.ts";
import { clipRef, expectClose, expectRunMatches, rasterRows, read, tmp, vitRef } from "../helpers/run-outputs.ts";

// `tesserae run` on tiny checkpoints of every family, against transformers (or the hand ports where
// transformers has no class): the CLI end to end, one child process per run.

describe.concurrent("tesserae run on tiny Hugging Face checkpoints, against PyTorch", () => {
  it("CLIPModel checkpoint with --pixel-values: last_hidden_state and projected image_embeds", async () => {
    const out = join(tmp, "clip.safetensors");
    const r = await tesserae("run", "graphs/clip.tsr", "--weights", "test/fixtures/clip", "--pixel-values", clipRef, "--out", out);
    expect(r.stderr).toContain("output     last_hidden_state  [2, 26, 40]");
    expect(r.code).toBe(0);
    expectClose(read(out, "last_hidden_state"), read(clipRef, "last_hidden_state"));
    expectClose(read(out, "image_embeds"), read(clipRef, "image_embeds"));
    expectClose(read(out, "pixel_values"), read(clipRef, "pixel_values"), 0);
  });

  it("CLIPVisionModel checkpoint with two PNG images: its preprocessor_config (resize 32, crop 30) and pooled output", async () => {
    const out = join(tmp, "clip-vision.safetensors");
    const r = await tesserae(
      "run",
      "graphs/clip.tsr",
      "--weights",
      "test/fixtures/clip-vision",
      "--image",
      "test/fixtures/images/odd-rgba.png",
      "--image",
      "test/fixtures/images/tall-gray.png",
      "--out",
      out,
    );
    expect(r.code).toBe(0);
    expectClose(read(out, "pixel_values"), read(clipRef, "vision_pixel_values"), 1e-6);
    expectClose(read(out, "last_hidden_state"), read(clipRef, "vision_last_hidden_state"));
    expectClose(read(out, "image_embeds"), read(clipRef, "pooler_output_vision_only"));
  });

  it("ViTModel checkpoint (with pooler) with --pixel-values", async () => {
    const out = join(tmp, "vit.safetensors");
    const r = await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--pixel-values", vitRef, "--out", out);
    expect(r.code).toBe(0);
    expectClose(read(out, "last_hidden_state"), read(vitRef, "last_hidden_state"));
    expectClose(read(out, "image_embeds"), read(vitRef, "image_embeds"));
  });

  it("ViTForImageClassification ('vit.' prefix) and its sharded bf16/f16 copy, from images, fused and unfused", async () => {
    const images = ["--image", "test/fixtures/images/odd-rgba.png", "--image", "test/fixtures/images/demo.png"];
    const a = join(tmp, "vit-cls.safetensors");
    const b = join(tmp, "vit-sharded.safetensors");
    expect((await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit-classifier", ...images, "--out", a)).code).toBe(0);
    expect(
      (await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit-sharded", ...images, "--out", b, "--no-fuse")).code,
    ).toBe(0);
    expectClose(read(a, "pixel_values"), read(vitRef, "pixel_values"), 1e-6);
    expectClose(read(a, "last_hidden_state"), read(vitRef, "classifier_last_hidden_state"));
    expectClose(read(a, "image_embeds"), read(vitRef, "classifier_image_embeds"));
    expectClose(read(b, "last_hidden_state"), read(vitRef, "sharded_last_hidden_state"));
  });

  it("stores weights and activations in f16 with --dtype f16, within 2% of the float64 reference", async () => {
    const out = join(tmp, "clip-f16.safetensors");
    const r = await tesserae(
      "run",
      "graphs/clip.tsr",
      "--weights",
      "test/fixtures/clip",
      "--pixel-values",
      clipRef,
      "--out",
      out,
      "--dtype",
      "f16",
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("dtype      f16 storage, f32 arithmetic");
    for (const name of ["last_hidden_state", "image_embeds"]) {
      const want = read(clipRef, name);
      const scale = Math.max(...Array.from(want.data, Math.abs));
      expect(maxAbsDiff(read(out, name), want) / scale, name).toBeLessThan(2e-2);
    }
  });

  it("SigLIP (SiglipModel checkpoint) with two images: post-norm tokens and the MAP head's pooled output", async () => {
    await expectRunMatches("graphs/siglip.tsr", "siglip", ["odd-rgba.png", "demo.png"], "test/fixtures/reference/siglip.safetensors");
  });

  it("LLaVA-1.5 (llava-hf layout): features of layer -2 without the class token, through the projector; the whole tower's last_hidden_state", async () => {
    await expectRunMatches("graphs/llava-1.5.tsr", "llava", ["odd-rgba.png", "tall-gray.png"], "test/fixtures/reference/llava.safetensors");
  });

  it("LLaVA-NeXT: anyres views (2x2 and 3x1 tiles), unpadding by rows and by columns, image_newline, layout counts", async () => {
    const ref = "test/fixtures/reference/llava-next.safetensors";
    const out = join(tmp, "llava-next.safetensors");
    const images = ["odd-rgba.png", "tall-gray.png", "wide.png"].map((n) => `test/fixtures/images/${n}`);
    const r = await tesserae(
      "run",
      "graphs/llava-next.tsr",
      "--weights",
      "test/fixtures/llava-next",
      ...images.flatMap((i) => ["--image", i]),
      "--out",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("tiles 2x2, 2x2, 3x1");
    expectClose(read(out, "pixel_values"), read(ref, "pixel_values"), 1e-6);
    expectClose(read(out, "image_embeds"), read(ref, "image_embeds"));
    expectClose(read(out, "last_hidden_state"), read(ref, "last_hidden_state"));
    expect(SafetensorsFile.open(out).readIntegers("image_sizes")).toEqual(SafetensorsFile.open(ref).readIntegers("image_sizes"));
    const layout = JSON.parse(readFileSync(out.replace(/\.safetensors$/, ".layout.json"), "utf8")) as {
      segments: { kind: string; length: number; id: number }[];
    };
    const tokens = JSON.parse(SafetensorsFile.open(ref).metadata.tokens as string) as number[];
    expect(layout.segments.map((s) => s.length)).toEqual(tokens);
    expect(layout.segments.every((s) => s.kind === "image" && s.id === 32000)).toBe(true);
  });

  it("Qwen2-VL: two images of different sizes in one packed run (segmented attention, 2-D rotary, merger)", async () => {
    const ref = "test/fixtures/reference/qwen2-vl.safetensors";
    const { out, stderr } = await expectRunMatches("graphs/qwen2-vl.tsr", "qwen2-vl", ["odd-rgba.png", "tall-gray.png"], ref);
    expect(stderr).toContain("grids 1x4x4, 1x6x4");
    expect(SafetensorsFile.open(out).readIntegers("grid_thw")).toEqual({ shape: [2, 3], values: [1, 4, 4, 1, 6, 4] });
    // --pixel-values takes grid_thw from the same file.
    const again = join(tmp, "qwen2-vl-pixels.safetensors");
    expect(
      (await tesserae("run", "graphs/qwen2-vl.tsr", "--weights", "test/fixtures/qwen2-vl", "--pixel-values", ref, "--out", again)).code,
    ).toBe(0);
    expectClose(read(again, "image_embeds"), read(ref, "image_embeds"));
    expectClose(read(again, "last_hidden_state"), read(ref, "last_hidden_state"));
    // --set hidden_order=raster: each image's patches row by row instead of transformers' 2x2 merge windows.
    const raster = join(tmp, "qwen2-vl-raster.safetensors");
    const args = ["--weights", "test/fixtures/qwen2-vl", "--pixel-values", ref, "--set", "hidden_order=raster", "--out", raster];
    expect((await tesserae("run", "graphs/qwen2-vl.tsr", ...args)).code).toBe(0);
    expectClose(
      read(raster, "last_hidden_state"),
      rasterRows(read(ref, "last_hidden_state"), [
        [1, 4, 4],
        [1, 6, 4],
      ]),
    );
    // Without a grid, the inputs computed from it cannot be made.
    const r2 = await tesserae(
      "run",
      "graphs/qwen2-vl.tsr",
      "--weights",
      "test/fixtures/qwen2-vl",
      "--pixel-values",
      "test/fixtures/reference/clip.safetensors",
    );
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("is computed from the images' grids (pixel values need grid_thw with them), but");
  });

  it("Qwen2-VL: an image and a 5-frame video in one run, and the token layout written next to the tensors", async () => {
    const ref = "test/fixtures/reference/qwen2-vl-video.safetensors";
    const out = join(tmp, "qwen2-vl-video.safetensors");
    const r = await tesserae(
      "run",
      "graphs/qwen2-vl.tsr",
      "--weights",
      "test/fixtures/qwen2-vl",
      "--set",
      "video_min_pixels=3136",
      "--image",
      "test/fixtures/images/tall-gray.png",
      "--video",
      "test/fixtures/images/video",
      "--prompt",
      "txt<image> txt<video>txt",
      "--out",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("grids 1x6x4, 3x4x6");
    expectClose(read(out, "pixel_values"), read(ref, "pixel_values"), 1e-6);
    expectClose(read(out, "image_embeds"), read(ref, "image_embeds"));
    expect(SafetensorsFile.open(out).readIntegers("video_grid_thw")).toEqual({ shape: [1, 3], values: [3, 4, 6] });
    const layout = JSON.parse(readFileSync(out.replace(/\.safetensors$/, ".layout.json"), "utf8")) as {
      length: number;
      image_rows: number;
      position_ids: number[][];
      segments: { kind: string; length: number }[];
    };
    // txt <vs> 6 image tokens <ve> txt <vs> 18 video tokens <ve> txt: the fixture's tokenizer reads "txt" and " txt" as one token each.
    expect(layout.segments.map((s) => `${s.kind}:${s.length}`)).toEqual([
      "text:1",
      "special:1",
      "image:6",
      "special:1",
      "text:1",
      "special:1",
      "video:18",
      "special:1",
      "text:1",
    ]);
    expect(layout.length).toBe(31);
    expect(layout.position_ids.map((axis) => axis.length)).toEqual([31, 31, 31]);
    // The video starts at index 11 with position 8 (the image advanced positions by max(3, 2) = 3, not 6);
    // its second temporal slice (index 17 on) is one step later in time: (9, 8, 8).
    expect([0, 1, 2].map((axis) => layout.position_ids[axis][11])).toEqual([8, 8, 8]);
    expect([0, 1, 2].map((axis) => layout.position_ids[axis][17])).toEqual([9, 8, 8]);
  });

  it("Qwen2.5-VL: an image and a 5-frame video in one run (window attention within each temporal slice)", async () => {
    const ref = "test/fixtures/reference/qwen2.5-vl-video.safetensors";
    const out = join(tmp, "qwen2.5-vl-video.safetensors");
    const r = await tesserae(
      "run",
      "graphs/qwen2.5-vl.tsr",
      "--weights",
      "test/fixtures/qwen2.5-vl",
      "--set",
      "video_min_pixels=3136",
      "--image",
      "test/fixtures/images/tall-gray.png",
      "--video",
      ["1", "2", "3", "4", "5"].map((i) => `test/fixtures/images/video/frame${i}.png`).join(","),
      "--out",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expectClose(read(out, "pixel_values"), read(ref, "pixel_values"), 1e-6);
    expectClose(read(out, "image_embeds"), read(ref, "image_embeds"));
  });

  it.each([
    ["clip-score", "clip-model", "CLIPModel"],
    ["siglip-score", "siglip-model", "SiglipModel"],
  ])("tesserae score %s: %s tokens, embeddings, logits, probabilities and loss for 4 images x 4 texts", async (graph, fixture) => {
    const ref = `test/fixtures/reference/${fixture}.safetensors`;
    const texts = JSON.parse(SafetensorsFile.open(ref).metadata.texts as string) as string[];
    const images = ["odd-rgba.png", "tall-gray.png", "demo.png", "small.jpg"].map((n) => `test/fixtures/images/${n}`);
    const out = join(tmp, `${graph}.safetensors`);
    const r = await tesserae(
      "score",
      `graphs/${graph}.tsr`,
      "--weights",
      `test/fixtures/${fixture}`,
      ...images.flatMap((i) => ["--image", i]),
      ...texts.flatMap((t) => ["--text", t]),
      "--out",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    // Tokens exactly as the slow tokenizer's rules give them (written independently in the fixture generator).
    expect(SafetensorsFile.open(out).readIntegers("input_ids")).toEqual(SafetensorsFile.open(ref).readIntegers("input_ids"));
    expectClose(read(out, "pixel_values"), read(ref, "pixel_values"), 1e-6);
    for (const name of ["image_embeds", "text_embeds", "logits_per_image", "logits_per_text", "probs", "loss"])
      expectClose(read(out, name), read(ref, name));
    const probs = Array.from(read(ref, "probs").data.slice(0, 4));
    const row = r.stdout.split("\n")[1];
    expect(row).toMatch(/^\s*odd-rgba.png(\s+\*?[0-9.e+-]+%){4}$/);
    expect(
      row
        .split(/\s+/)
        .filter((c) => c.endsWith("%"))
        .findIndex((c) => c.startsWith("*")),
    ).toBe(probs.indexOf(Math.max(...probs)));
    expect(r.stdout).toContain("loss over the 4 pairs");
    // 1 image and 2 texts: no pairs, so no loss.
    const one = await tesserae(
      "score",
      `graphs/${graph}.tsr`,
      "--weights",
      `test/fixtures/${fixture}`,
      "--image",
      images[0],
      "--text",
      "a cat",
      "--text",
      "a dog",
    );
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).not.toContain("loss");
  });

  it("tesserae score without a tokenizer, or on a graph without texts, says so", async () => {
    const noTok = await tesserae(
      "score",
      "graphs/clip-score.tsr",
      "--preset",
      "b32",
      "--set",
      "layers=1",
      "--set",
      "text_layers=1",
      "--image",
      "test/fixtures/images/demo.png",
      "--text",
      "a cat",
    );
    expect(noTok.code).toBe(1);
    expect(noTok.stderr).toContain("score needs the checkpoint's tokenizer");
    const notText = await tesserae(
      "score",
      "graphs/clip.tsr",
      "--weights",
      "test/fixtures/clip-model",
      "--image",
      "test/fixtures/images/demo.png",
      "--text",
      "a cat",
    );
    expect(notText.code).toBe(1);
    expect(notText.stderr).toContain("is not an image-text graph");
  });

  it("tesserae layout prints the JSON layout for sizes or files, and says what does not fit", async () => {
    const r = await tesserae(
      "layout",
      "graphs/qwen2-vl.tsr",
      "--image",
      "1280x720",
      "--image",
      "test/fixtures/images/tall-gray.png",
      "--weights",
      "test/fixtures/qwen2-vl",
      "--prompt",
      "txt<image><image>",
    );
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as {
      model: string;
      length: number;
      image_rows: number;
      rope_delta: number;
      segments: { kind: string; grid_thw?: number[] }[];
    };
    expect(json.model).toBe("qwen2_vl");
    // 720x1280 -> smart_resize 728x1288 -> grid 52x92 -> 1196 tokens; 45x71 -> 1x6x4 -> 6 tokens.
    expect(json.segments.filter((s) => s.kind === "image").map((s) => s.grid_thw)).toEqual([
      [1, 52, 92],
      [1, 6, 4],
    ]);
    expect(json.image_rows).toBe(1202);
    expect(json.length).toBe(1 + 1202 + 4);
    const bad = await tesserae("layout", "graphs/qwen2-vl.tsr", "--image", "56x56", "--prompt", "no marks here");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("the prompt has 0 <image> marks, but 1 image was given");
    const none = await tesserae("layout", "graphs/vit.tsr", "--image", "56x56");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("declares no layout section");
  });

  it("Qwen2.5-VL: window attention (with an empty padding window), full-attention block, RMSNorm, SwiGLU, order undone", async () => {
    const { stderr } = await expectRunMatches(
      "graphs/qwen2.5-vl.tsr",
      "qwen2.5-vl",
      ["demo.png", "tall-gray.png"],
      "test/fixtures/reference/qwen2.5-vl.safetensors",
    );
    expect(stderr).toContain("grids 1x8x10, 1x6x4");
  });

  it("DeepSeek-VL2: global view and tiles per image, SigLIP per view, 2x2 downsample projector, newline/separator assembly", async () => {
    const { out, stderr } = await expectRunMatches(
      "graphs/deepseek-vl2.tsr",
      "deepseek-vl2",
      ["demo.png", "tall-gray.png"],
      "test/fixtures/reference/deepseek-vl2.safetensors",
    );
    expect(stderr).toContain("tiles 3x3, 2x2");
    expect(SafetensorsFile.open(out).readIntegers("images_spatial_crop")).toEqual({ shape: [2, 2], values: [3, 3, 2, 2] });
    // With more than 2 images cropping is off: one tile each, 2*(2+1) + 1 + 2*(2+1) = 13 tokens per image here.
    const three = await tesserae(
      "run",
      "graphs/deepseek-vl2.tsr",
      "--weights",
      "test/fixtures/deepseek-vl2",
      "--image",
      "test/fixtures/images/demo.png",
      "--image",
      "test/fixtures/images/tall-gray.png",
      "--image",
      "test/fixtures/images/odd-rgba.png",
    );
    expect(three.stderr).toContain("tiles 1x1, 1x1, 1x1");
    expect(three.stderr).toContain("output     image_embeds       [39, 24]");
  });

  it("DeepSeek-VL hybrid (deepseek-ai layout): SAM with windows, relative positions, neck, stride-2 convolutions and the hd branch; SigLIP on an antialiased resize; the hybrid aligner", async () => {
    const ref = "test/fixtures/reference/deepseek-vl.safetensors";
    const { out } = await expectRunMatches("graphs/deepseek-vl.tsr", "deepseek-vl", ["demo.png", "tall-gray.png"], ref);
    expectClose(read(out, "high_res_vision_last_hidden_state"), read(ref, "high_res_vision_last_hidden_state"));
    const layout = JSON.parse(readFileSync(out.replace(/\.safetensors$/, ".layout.json"), "utf8")) as {
      segments: { length: number; token: string; id: number }[];
    };
    expect(layout.segments.map((s) => [s.token, s.length, s.id])).toEqual([
      ["<image_placeholder>", 9, 100015],
      ["<image_placeholder>", 9, 100015],
    ]);
  });

  it("DeepSeek-VL 1.3B (deepseek-ai layout): the SigLIP tower alone on the normalised 384-style image, the mlp_gelu projector", async () => {
    const { stderr } = await expectRunMatches(
      "graphs/deepseek-vl.tsr",
      "deepseek-vl-1.3b",
      ["demo.png", "tall-gray.png"],
      "test/fixtures/reference/deepseek-vl-1.3b.safetensors",
    );
    expect(stderr).toContain(`variant="CLIPVisionTower"`);
    expect(stderr).not.toContain("output     high_res");
  });

  it("DeepSeek-VL hybrid (transformers' DeepseekVLHybridForConditionalGeneration): pixel_values and high_res_pixel_values in and out", async () => {
    const ref = "test/fixtures/reference/deepseek-vl-hf.safetensors";
    const { out, stderr } = await expectRunMatches(
      "graphs/deepseek-vl.tsr",
      "deepseek-vl-hf",
      ["odd-rgba.png", "tall-gray.png", "wide.png"],
      ref,
    );
    expect(stderr).toContain("input      high_res_pixel_values [3, 3, 128, 128]");
    expectClose(read(out, "high_res_pixel_values"), read(ref, "high_res_pixel_values"), 1e-6);
    expectClose(read(out, "high_res_vision_last_hidden_state"), read(ref, "high_res_vision_last_hidden_state"));
    const again = join(tmp, "deepseek-vl-hf-pixels.safetensors");
    const args = ["--weights", "test/fixtures/deepseek-vl-hf", "--pixel-values", ref, "--out", again];
    expect((await tesserae("run", "graphs/deepseek-vl.tsr", ...args)).code).toBe(0);
    expectClose(read(again, "image_embeds"), read(ref, "image_embeds"));
    // pixel_values alone are not enough for the hybrid.
    const lone = await tesserae(
      "run",
      "graphs/deepseek-vl.tsr",
      "--weights",
      "test/fixtures/deepseek-vl-hf",
      "--pixel-values",
      "test/fixtures/reference/deepseek-vl-1.3b-hf.safetensors",
    );
    expect(lone.code).toBe(1);
    expect(lone.stderr).toContain("takes high_res_pixel_values besides pixel_values");
    expect(lone.stderr).not.toMatch(/\n\s+at /);
  });

  it("DeepSeek-VL 1.3B (transformers' DeepseekVLForConditionalGeneration): SigLIP and the two-layer aligner, from images and from the processor's pixel values", async () => {
    const ref = "test/fixtures/reference/deepseek-vl-1.3b-hf.safetensors";
    await expectRunMatches("graphs/deepseek-vl.tsr", "deepseek-vl-1.3b-hf", ["odd-rgba.png", "tall-gray.png", "wide.png"], ref);
    const again = join(tmp, "deepseek-vl-1.3b-hf-pixels.safetensors");
    const args = ["--weights", "test/fixtures/deepseek-vl-1.3b-hf", "--pixel-values", ref, "--out", again];
    expect((await tesserae("run", "graphs/deepseek-vl.tsr", ...args)).code).toBe(0);
    expectClose(read(again, "image_embeds"), read(ref, "image_embeds"));
  });

  // The same tiny models as transformers 5.18 saves them (save_pretrained, scripts/fixtures/make_*_references.py):
  // its own tensor names (LLaVA's tower without vision_model, vision models without their prefix) and configs.
  it.each([
    [
      "clip.tsr",
      "clip-vision",
      ["odd-rgba.png", "tall-gray.png"],
      "clip",
      ["vision_pixel_values", "vision_last_hidden_state", "pooler_output_vision_only"],
    ],
    ["siglip.tsr", "siglip-vision", ["odd-rgba.png", "demo.png"], "siglip", []],
    ["vit.tsr", "vit", ["odd-rgba.png", "demo.png"], "vit", []],
    ["llava-1.5.tsr", "llava", ["odd-rgba.png", "tall-gray.png"], "llava", []],
    ["llava-next.tsr", "llava-next", ["odd-rgba.png", "tall-gray.png", "wide.png"], "llava-next", []],
    ["qwen2-vl.tsr", "qwen2-vl", ["odd-rgba.png", "tall-gray.png"], "qwen2-vl", []],
    ["qwen2.5-vl.tsr", "qwen2.5-vl", ["demo.png", "tall-gray.png"], "qwen2.5-vl", []],
  ])("%s on the checkpoint transformers saves (saved/%s), from images", async (graph, fixture, images, reference, names) => {
    const [pixels, hidden, embeds] = names.length > 0 ? names : ["pixel_values", "last_hidden_state", "image_embeds"];
    const ref = `test/fixtures/reference/${reference}.safetensors`;
    const out = join(tmp, `saved-${fixture}.safetensors`);
    const r = await tesserae(
      "run",
      `graphs/${graph}`,
      "--weights",
      `test/fixtures/saved/${fixture}`,
      ...images.flatMap((i) => ["--image", `test/fixtures/images/${i}`]),
      "--out",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expectClose(read(out, "pixel_values"), read(ref, pixels), 1e-6);
    expectClose(read(out, "last_hidden_state"), read(ref, hidden));
    expectClose(read(out, "image_embeds"), read(ref, embeds));
  });

  it.each([
    ["vit.tsr", "vit", ["--set", "resize_h=45", "--set", "resize_w=63"]],
    ["clip.tsr", "clip-vision", ["--set", "resize_to=42", "--set", "crop=42"]],
  ])(
    "%s at another resolution than its checkpoint's: the position table resized as interpolate_pos_encoding=True does",
    async (graph, fixture, sets) => {
      const ref = `test/fixtures/reference/${graph.replace(".tsr", "")}-interpolated.safetensors`;
      const out = join(tmp, `${fixture}-interpolated.safetensors`);
      const images = ["odd-rgba.png", "tall-gray.png", "wide.png"].flatMap((i) => ["--image", `test/fixtures/images/${i}`]);
      const r = await tesserae("run", `graphs/${graph}`, "--weights", `test/fixtures/${fixture}`, ...images, ...sets, "--out", out);
      expect(r.code, r.stderr).toBe(0);
      expectClose(read(out, "pixel_values"), read(ref, "pixel_values"), 1e-6);
      expectClose(read(out, "last_hidden_state"), read(ref, "last_hidden_state"));
      expectClose(read(out, "image_embeds"), read(ref, "image_embeds"));
    },
  );

  it("Qwen-VL: bigG-style tower with head-interleaved qkv, position tables resized bicubically, the cross-attention resampler", async () => {
    await expectRunMatches("graphs/qwen-vl.tsr", "qwen-vl", ["demo.png", "odd-rgba.png"], "test/fixtures/reference/qwen-vl.safetensors");
  });

  it("runs a published size from a preset with announced random weights", async () => {
    const r = await tesserae(
      "run",
      "graphs/vit.tsr",
      "--preset",
      "base16",
      "--set",
      "layers=1",
      "--image",
      "test/fixtures/images/small.jpg",
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("using seeded random weights (seed 0)");
    expect(r.stderr).toContain("output     last_hidden_state  [1, 197, 768]");
  });
});
