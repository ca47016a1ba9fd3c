import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bundledGraphs, compile, DiagnosticError, ImageError, layout, load, TesseraeError, WeightsError } from "../../api/index.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";

const VIT = "test/fixtures/vit";

// Library code reports through callbacks and errors, never on stderr.
let stderrWrites: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);
beforeEach(() => {
  stderrWrites = [];
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderrWrites.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
});
afterEach(() => {
  process.stderr.write = realWrite;
  expect(stderrWrites).toEqual([]);
});

describe("compile", () => {
  it("takes a bundled graph's name, a path or source text; gives inputs, outputs and kernels as data", () => {
    expect(bundledGraphs()).toContain("qwen2-vl");
    const byName = compile("vit", { weights: VIT });
    const byPath = compile("graphs/vit.tsr", { weights: VIT });
    const bySource = compile(readFileSync("graphs/vit.tsr", "utf8"), { weights: VIT });
    for (const c of [byName, byPath, bySource]) {
      expect(c.name).toBe("vit");
      expect(c.inputs).toEqual([{ name: "pixel_values", dtype: "f32", shape: ["B", 3, 36, 36] }]);
      expect(c.outputs.map((o) => o.name)).toEqual(["last_hidden_state", "image_embeds"]);
      // Patch embedding, class token and positions in one kernel, then per layer a QKV matmul, attention, three matmuls.
      expect(c.kernels.length).toBe(18);
    }
    expect(bySource.source).toBe("<source>");
    expect(compile("vit", { preset: "base16", config: { layers: 2 } }).config).toMatchObject({ hidden: 768, layers: 2 });
  });

  it("a bad graph is a DiagnosticError with file:line:col, its diagnostics as data", () => {
    const bad = 'model m {\n  input pixel_values: f32[B, 3]\n  x = linear(pixel_values, "w", bias = nonsense)\n  output y = x\n}\n';
    let error: unknown;
    try {
      compile({ source: bad, path: "mine.tsr" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DiagnosticError);
    expect(error).toBeInstanceOf(TesseraeError);
    const d = (error as DiagnosticError).diagnostics[0];
    expect(d.file).toBe("mine.tsr");
    expect((error as Error).message).toMatch(/^mine\.tsr:\d+:\d+: error: /);
    expect(() => compile("no-such-graph")).toThrow(/no bundled graph 'no-such-graph' \(bundled: .*vit/);
  });
});

describe("one tower of a contrastive graph (compile's outputs option)", () => {
  const CLIP = "test/fixtures/clip-model";

  it("keeps only what the chosen outputs need: inputs, computed inputs and kernels; an unknown output is named", () => {
    const full = compile("clip-score", { weights: CLIP });
    const image = compile("clip-score", { weights: CLIP, outputs: ["image_embeds"] });
    const text = compile("clip-score", { weights: CLIP, outputs: ["text_embeds"] });
    expect(image.inputs.map((i) => i.name)).toEqual(["pixel_values"]);
    expect(image.outputs.map((o) => o.name)).toEqual(["image_embeds"]);
    expect(text.inputs.map((i) => i.name)).toEqual(["input_ids", "text_pool"]);
    expect(text.program.symbols).toEqual(["T"]);
    expect(image.program.providers).toEqual([]);
    expect(image.kernels.length + text.kernels.length).toBeLessThan(full.kernels.length);
    expect(image.weights.every((w) => !w.name.startsWith("text_"))).toBe(true);
    expect(() => compile("clip-score", { weights: CLIP, outputs: ["nope"] })).toThrow(
      /clip_score has no output 'nope' \(its outputs: image_embeds, text_embeds, logits_per_image/,
    );
  });

  it("each tower alone gives the whole graph's embeddings exactly: run on images, embedTexts on texts", async () => {
    const images = ["test/fixtures/images/demo.png", "test/fixtures/images/wide.png"];
    const texts = ["a photo of a cat", "a dog"];
    const full = await load(compile("clip-score", { weights: CLIP }));
    const image = await load(compile("clip-score", { weights: CLIP, outputs: ["image_embeds"] }));
    const text = await load(compile("clip-score", { weights: CLIP, outputs: ["text_embeds"] }));
    try {
      const whole = await full.score(images, texts);
      expect(maxAbsDiff((await image.run(images)).outputs.image_embeds, whole.outputs.image_embeds)).toBe(0);
      expect(maxAbsDiff((await text.embedTexts(texts)).text_embeds, whole.outputs.text_embeds)).toBe(0);
      await expect(image.embedTexts(texts)).rejects.toThrow(/embedTexts needs a text tower alone/);
    } finally {
      for (const m of [full, image, text]) m.dispose();
    }
  });
});

describe("load and run", () => {
  it("runs pixel values and image files; matches the PyTorch reference; random weights are announced through onWarning", async () => {
    const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
    const model = await load(compile("vit", { weights: VIT }));
    const { outputs } = await model.run({ pixel_values: ref.read("pixel_values") });
    expect(maxAbsDiff(outputs.last_hidden_state, ref.read("last_hidden_state"))).toBeLessThan(1e-4);
    const fromFile = await model.run(["test/fixtures/images/demo.png"]);
    const fromBytes = await model.run([new Uint8Array(readFileSync("test/fixtures/images/demo.png"))]);
    expect(maxAbsDiff(fromFile.outputs.image_embeds, fromBytes.outputs.image_embeds)).toBe(0);
    expect(fromFile.pixelValues.shape).toEqual([1, 3, 36, 36]);
    model.dispose();
    const warnings: string[] = [];
    const random = await load(compile("vit", { preset: "base16", config: { layers: 1 } }), { seed: 3, onWarning: (m) => warnings.push(m) });
    random.dispose();
    expect(warnings).toEqual(["no weights given: using seeded random weights (seed 3); outputs are not a real model's"]);
  });

  it("a checkpoint that lacks the graph's tensors is a WeightsError naming tensor and folder", async () => {
    await expect(load(compile("vit", { weights: VIT }), { weights: "test/fixtures/clip-vision" })).rejects.toThrow(WeightsError);
    await expect(load(compile("vit", { weights: VIT }), { weights: "test/fixtures/clip-vision" })).rejects.toThrow(
      /test\/fixtures\/clip-vision lacks tensors '.*embeddings\.patch_embeddings\.projection\.weight'/,
    );
  });

  it("an unreadable image is an ImageError naming it", async () => {
    const model = await load(compile("vit", { weights: VIT }));
    await expect(model.run(["test/fixtures/images/missing.png"])).rejects.toThrow(ImageError);
    await expect(model.run([new Uint8Array([1, 2, 3, 4])], { names: ["upload.bin"] })).rejects.toThrow(
      "image upload.bin: not a PNG or JPEG file",
    );
    await expect(model.run([{ width: 2, height: 2, data: new Uint8Array(5) }])).rejects.toThrow(
      "image image 0: 5 bytes of pixels, but 2x2 needs 12 (RGB) or 16 (RGBA)",
    );
    model.dispose();
  });

  it("token layouts without a device: image tokens and M-RoPE positions as transformers gives them", async () => {
    const c = compile("qwen2-vl", { weights: "test/fixtures/qwen2-vl" });
    const l = await layout(c, [{ width: 56, height: 84, data: new Uint8Array(56 * 84 * 3) }], "Describe <image>");
    expect(l.image_rows).toBe(6);
    expect(l.position_ids?.length).toBe(3);
  });
});

describe("weights as tensors", () => {
  it("a Map under the checkpoint's names runs like the folder; a wrong shape names the tensor", async () => {
    const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
    const ckpt = SafetensorsFile.open(`${VIT}/model.safetensors`);
    const tensors = new Map([...ckpt.tensors.keys()].map((name) => [name, ckpt.read(name)] as const));
    const model = await load(compile("vit", { weights: VIT }), { weights: tensors });
    const { outputs } = await model.run({ pixel_values: ref.read("pixel_values") });
    model.dispose();
    expect(maxAbsDiff(outputs.image_embeds, ref.read("image_embeds"))).toBeLessThan(1e-4);
    const name = [...tensors.keys()].find((n) => n.endsWith("layernorm.weight")) as string;
    tensors.set(name, { shape: [3], data: new Float32Array(3) });
    await expect(load(compile("vit", { weights: VIT }), { weights: tensors })).rejects.toThrow(
      `tensor '${name}' in the given tensors has shape [3], but graph 'vit' expects [36]`,
    );
  });
});
