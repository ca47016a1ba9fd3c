import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tesserae, tesseraeProcess, tesseraeUnder } from "../helpers/cli.ts";
import { clipRef, tmp, vitRef } from "../helpers/run-outputs.ts";
import { reliable } from "../helpers/reliability.ts";

describe.concurrent("bad input: one clear line, exit code 1, no stack trace", () => {
  const expectOneError = (r: { code: number; stderr: string }, text: string): void => {
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(text);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it("a bad graph file points at file:line:col", async () => {
    const path = join(tmp, "bad.tsr");
    writeFileSync(path, 'model m {\n  input x: f32[B, 4]\n  output y = linear(x, "fc", 3) + unknown_thing\n}\n');
    const r = await tesserae("run", path, "--image", "test/fixtures/images/demo.png");
    expectOneError(r, `${path}:3:35: error: unknown name 'unknown_thing'`);
    expect((await tesserae("check", path)).code).toBe(1);
  });

  it("a graph file that does not exist", async () => {
    expectOneError(await tesserae("check", "graphs/nope.tsr"), "tesserae: error: cannot read graph file graphs/nope.tsr: no such file");
  });

  it("a corrupt checkpoint names the file", async () => {
    const dir = join(tmp, "corrupt-ckpt");
    mkdirSync(dir, { recursive: true });
    copyFileSync("test/fixtures/vit/config.json", join(dir, "config.json"));
    const whole = readFileSync("test/fixtures/vit/model.safetensors");
    writeFileSync(join(dir, "model.safetensors"), whole.subarray(0, whole.length - 100));
    const r = await tesserae("run", "graphs/vit.tsr", "--weights", dir, "--image", "test/fixtures/images/demo.png");
    expectOneError(r, `tesserae: error: ${join(dir, "model.safetensors")}: tensor '`);
    expect(r.stderr).toContain("run past the end of the file");
  });

  it("a checkpoint of another model names the missing tensors", async () => {
    expectOneError(
      await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/clip", "--image", "test/fixtures/images/demo.png"),
      "lacks tensors 'embeddings.patch_embeddings.projection.weight'",
    );
  });

  it("a bad image names the image", async () => {
    expectOneError(
      await tesserae("run", "graphs/clip.tsr", "--preset", "b32", "--image", "test/fixtures/images/not-an-image.png"),
      "tesserae: error: image test/fixtures/images/not-an-image.png: not a PNG or JPEG file",
    );
  });

  it("pixel values of the wrong size name the input and the expected shape", async () => {
    expectOneError(
      await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--pixel-values", clipRef),
      "input 'pixel_values' has shape [2, 3, 30, 30], but the graph expects [B, 3, 36, 36]",
    );
  });

  it("never overwrites an input with --out", async ({ task }) => {
    const copy = join(tmp, "in.png");
    copyFileSync("test/fixtures/images/demo.png", copy);
    expectOneError(
      await tesserae("run", "graphs/clip.tsr", "--preset", "b32", "--image", copy, "--out", copy),
      "would overwrite one of the inputs",
    );
    expect(readFileSync(copy).equals(readFileSync("test/fixtures/images/demo.png"))).toBe(true);
    const before = readFileSync("test/fixtures/vit/config.json");
    expectOneError(
      await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--image", copy, "--out", "test/fixtures/vit/config.json"),
      "would overwrite a file of the checkpoint",
    );
    expect(readFileSync("test/fixtures/vit/config.json").equals(before)).toBe(true);
    reliable(
      {
        area: "files",
        case: "--out naming an input image or a file of the checkpoint",
        tried: 2,
        outcome: "refused before running; the file is unchanged",
      },
      task,
    );
  });

  it("two processes write bit-identical outputs; a failed run leaves an existing --out file as it was", async ({ task }) => {
    const [a, b] = [join(tmp, "det-a.safetensors"), join(tmp, "det-b.safetensors")];
    for (const out of [a, b])
      expect(
        (await tesseraeProcess("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--pixel-values", vitRef, "--out", out)).code,
      ).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    reliable(
      {
        area: "determinism",
        case: "the same run in two processes (ViT checkpoint, --out)",
        tried: 2,
        outcome: "bit-identical output files",
      },
      task,
    );
    writeFileSync(b, "an earlier result");
    expectOneError(
      await tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--pixel-values", clipRef, "--out", b),
      "input 'pixel_values' has shape",
    );
    expect(readFileSync(b, "utf8")).toBe("an earlier result");
    expect(readdirSync(tmp).filter((f) => f.startsWith("det-b") && f !== "det-b.safetensors")).toEqual([]);
    reliable(
      {
        area: "files",
        case: "a run that fails with an existing --out file",
        tried: 1,
        outcome: "the file is untouched and no temporary file is left (outputs are written to a temporary file, then renamed)",
      },
      task,
    );
  });

  // Through the built command in a child process: the exit code the shell sees, and nothing more on stderr.
  it("unknown options and commands", async () => {
    expectOneError(await tesseraeProcess("run", "graphs/clip.tsr", "--imgae", "x.png"), "run: unknown option --imgae");
    expectOneError(await tesseraeProcess("frobnicate"), "unknown command 'frobnicate'");
    expectOneError(await tesseraeProcess("run", "graphs/clip.tsr"), "nothing to run on");
  });
});

describe.concurrent("check and ir", () => {
  it.each([
    ["graphs/siglip.tsr", "base16", "92,884,224"],
    ["graphs/siglip.tsr", "large16_384", "316,283,904"],
    ["graphs/siglip.tsr", "so400m14_384", "428,225,600"],
    ["graphs/clip.tsr", "b32", "87,849,216"],
    ["graphs/vit.tsr", "base16", "86,389,248"],
    // CLIP-L/14-336 without its post-norm (303,507,456 - 2,048) plus the 7B projector (20,979,712)
    ["graphs/llava-1.5.tsr", "7b", "324,485,120"],
    ["graphs/qwen2-vl.tsr", "7b", "675,759,104"],
    ["graphs/qwen2-vl.tsr", "2b", "665,271,296"],
    // 32 blocks of 19,702,200 + patch embedding 1,505,280 + merger 36,708,608 (spec towers-b §4.1)
    ["graphs/qwen2.5-vl.tsr", "3b", "668,684,288"],
    // SigLIP so400m without its head (428,225,600 - 15,238,352) + projector and the two learned vectors for n_embed 1280
    ["graphs/deepseek-vl2.tsr", "tiny", "420,529,008"],
    // 1,842,770,688 ViT + 92,839,936 resampler, ln_post and proj (spec towers-a §5.1)
    ["graphs/qwen-vl.tsr", "", "1,935,610,624"],
    // SigLIP so400m/14 at 224 without its head (427,680,704 - 15,238,352) and the 1152 -> 2048 projector (2,361,344)
    ["graphs/paligemma.tsr", "3b_224", "414,803,696"],
    // transformers' Dinov2Model counts less its mask token (unused here): 22,056,576 - 384 and 1,136,480,768 - 1,536
    ["graphs/dinov2.tsr", "small", "22,056,192"],
    ["graphs/dinov2.tsr", "giant", "1,136,479,232"],
    // SigLIP so400m/14 at 896 without its head (412,987,248 + 3,878,784 more positions), the norm and the 1152 x 2560 projection
    ["graphs/gemma3.tsr", "4b", "419,816,304"],
    // InternViT-300M-448px (304,012,288) and the projector (4,482,816)
    ["graphs/internvl.tsr", "1b", "308,495,104"],
    // SigLIP so400m/14 without its head at 364 px (412,442,352 at 224 + 420 more positions x 1152) and the
    // bias-free 4608 x 4096 connector (18,874,368)
    ["graphs/idefics3.tsr", "8b", "431,800,560"],
    // Pixtral-12B's encoder: 24 layers of 16,779,264 (4 x 1024² attention, 3 x 1024 x 4096 SwiGLU, two norms),
    // the 16 px patch convolution (786,432) and ln_pre (403,489,792), and LLaVA's biased 1024 -> 5120 -> 5120 projector
    ["graphs/pixtral.tsr", "pixtral-12b", "434,957,312"],
  ])("%s --preset %s has the published parameter count (%s)", async (graph, preset, count) => {
    const r = await tesserae("check", graph, ...(preset ? ["--preset", preset] : []));
    expect(r.stdout).toContain(`(${count} parameters)`);
  });

  it("two commands at once in one process each get their own output (main() with its streams)", async () => {
    const [vit, siglip] = await Promise.all([
      tesserae("run", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--pixel-values", vitRef, "--runs", "1"),
      tesserae("check", "graphs/siglip.tsr", "--preset", "base16"),
    ]);
    expect([vit.code, siglip.code]).toEqual([0, 0]);
    expect(vit.stderr).toContain("model      vit (graphs/vit.tsr)");
    expect(vit.stderr + vit.stdout).not.toContain("siglip");
    expect(siglip.stdout).toContain("graphs/siglip.tsr: ok: model siglip");
    expect(siglip.stdout + siglip.stderr).not.toMatch(/\bvit\b/);
  });

  it("check summarises a graph", async () => {
    const r = await tesserae("check", "graphs/clip.tsr", "--preset", "l14_336");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("graphs/clip.tsr: ok: model clip");
    expect(r.stdout).toContain("(304,293,888 parameters)");
  });

  it("ir prints primitives with shapes and source lines", async () => {
    const r = await tesserae("ir", "graphs/vit.tsr", "--weights", "test/fixtures/vit");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`%0 = input "pixel_values" : f32[B, 3, 36, 36]`);
    expect(r.stdout).toMatch(/attention heads=3 .* : f32\[B, 17, 36\]/);
    expect(existsSync("graphs/vit.tsr")).toBe(true);
  });
});

describe("bench", () => {
  it("runs a graph with computed inputs (Qwen2-VL, one block) fused and unfused on a synthetic image and writes the records", async () => {
    const out = join(tmp, "bench.json");
    const r = await tesserae(
      "bench",
      "graphs/qwen2-vl.tsr",
      "--set",
      "depth=1",
      "--set",
      "embed=64",
      "--set",
      "heads=4",
      "--set",
      "out=32",
      "--runs",
      "1",
      "--image",
      "56x84",
      "--out",
      out,
    );
    expect(r.code).toBe(0);
    const records = JSON.parse(readFileSync(out, "utf8")) as { engine: string; input: string; median_ms: number }[];
    expect(records.map((x) => x.engine)).toEqual(["tesserae", "tesserae-unfused"]);
    expect(records[0].input).toBe("24x1176");
    expect(records.every((x) => x.median_ms > 0)).toBe(true);
    expect(r.stdout).toContain("| graphs/qwen2-vl.tsr | 24x1176 | f32 | tesserae |");
  });

  it("--peers: ONNX Runtime CPU, its WebGPU and onnxruntime-web's WebGPU run the exported graph side by side, after agreeing with Tesserae", async () => {
    const out = join(tmp, "bench-peers.json");
    // V8 tiers onnxruntime-web's wasm up to optimised code in the background, and the process waits
    // for that before it exits (41 s here, after 6 s of benchmark). Liftoff's code computes the same.
    const r = await tesseraeUnder(
      ["--liftoff-only"],
      "bench",
      "graphs/vit.tsr",
      "--set",
      "layers=1",
      "--set",
      "hidden=64",
      "--set",
      "heads=4",
      "--set",
      "mlp_width=96",
      "--runs",
      "1",
      "--peers",
      "--out",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("ort-cpu: session");
    expect(r.stderr).toContain("outputs agree with Tesserae");
    const records = JSON.parse(readFileSync(out, "utf8")) as { engine: string; median_ms: number }[];
    expect(records.map((x) => x.engine)).toEqual(["tesserae", "tesserae-unfused", "ort-cpu", "ort-node-webgpu", "ort-web-webgpu"]);
    expect(records.every((x) => x.median_ms > 0)).toBe(true);
  });
});

describe.concurrent("explain", () => {
  it("json lists kernels with ops, source lines, FLOPs and bytes; CLIP L/14-336: the embedding, the pre-norm, 5 per block", async () => {
    const r = await tesserae("explain", "graphs/clip.tsr", "--preset", "l14_336", "--format", "json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      kernels: { name: string; kind: string; ops: string[]; source: string[]; flops: number; bytes: number }[];
    };
    expect(report.kernels.length).toBe(2 + 24 * 5 + 1);
    const [embed, norm] = report.kernels;
    expect(embed.kind).toBe("matmul");
    expect(embed.ops).toEqual(expect.arrayContaining(["matmul", "concat", "add"]));
    expect(norm.ops).toEqual(expect.arrayContaining(["reduce_mean", "rsqrt"]));
    expect(norm.ops).not.toContain("concat");
    expect(report.kernels.filter((k) => k.kind === "attention")).toHaveLength(24);
    // patch embedding: 2 * 576 patches * 1024 channels * 588 inputs, and one add per output for the positions
    expect(embed.flops).toBeGreaterThanOrEqual(2 * 576 * 1024 * 588);
    expect(embed.flops).toBeLessThanOrEqual(2 * 576 * 1024 * 588 + 577 * 1024);
    expect(norm.flops).toBeLessThan(20 * 577 * 1024);
    const lines = readFileSync("graphs/clip.tsr", "utf8").split("\n");
    const lineOf = (text: string): string => `graphs/clip.tsr:${lines.findIndex((l) => l.includes(text)) + 1}`;
    expect(embed.source).toEqual([lineOf("x = patch_embed("), lineOf("x = prepend_token("), lineOf("position_embedding.weight")]);
    expect(norm.source).toEqual([lineOf('"vision_model.pre_layrnorm"')]);
    expect(report.kernels.every((k) => k.bytes > 0 && k.source.length > 0)).toBe(true);
  });

  it("text, dot and html draw the kernels", async () => {
    const text = await tesserae("explain", "graphs/vit.tsr", "--set", "layers=1");
    expect(text.stdout).toMatch(/vit \(graphs\/vit\.tsr\): 8 kernels/);
    expect(text.stdout).toMatch(/weights derived once, at load time \(10 tensors/);
    const dot = await tesserae("explain", "graphs/vit.tsr", "--set", "layers=1", "--format", "dot");
    expect(dot.stdout).toContain("subgraph cluster_0 {");
    expect(dot.stdout.match(/subgraph cluster_/g)).toHaveLength(8);
    const html = await tesserae("explain", "graphs/vit.tsr", "--set", "layers=1", "--format", "html", "--no-fuse");
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain("unfused");
    expect((await tesserae("explain", "graphs/vit.tsr", "--format", "svg")).stderr).toContain(
      "--format must be one of text, json, dot, html",
    );
  });
});
