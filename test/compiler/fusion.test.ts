import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { compileFile } from "../../compiler/frontend.ts";
import type { Plan } from "../../compiler/plan/plan.ts";
import { compileOk } from "../helpers/compile.ts";

const kernelsOf = (body: string, normsOnLoad = false): Plan => compileGraph(compileOk(`model m {\n  input x: f32[B, 9, 12]\n${body}\n}`).graph, { fuse: true, normsOnLoad });
const summary = (plan: Plan): string[] =>
  plan.kernels.map((k) => `${k.kind}: ${k.nodes.map((n) => { const op = plan.graph.nodes[n].op; return op.kind === "unary" || op.kind === "binary" ? op.fn : op.kind; }).join(" ")}`);

describe("fusion rules", () => {
  it("an elementwise chain is one pointwise kernel", () => {
    expect(summary(kernelsOf("  output y = gelu(x * 2 + 1)"))).toEqual(["pointwise: mul add mul mul erf add mul"]);
  });

  it("layernorm (two reductions and their neighbours) is one row kernel", () => {
    expect(summary(kernelsOf(`  output y = layernorm(x, "ln")`))).toEqual(["row: reduce sub mul reduce add rsqrt mul mul add"]);
  });

  it("softmax written from primitives is one row kernel", () => {
    const plan = kernelsOf("  e = exp(x - max(x))\n  output y = e / sum(e)");
    expect(plan.kernels.map((k) => k.kind)).toEqual(["row"]);
  });

  it("a linear layer takes bias and activation as its epilogue", () => {
    expect(summary(kernelsOf(`  output y = quick_gelu(linear(x, "fc", 20))`))).toEqual(["matmul: matmul add mul sigmoid mul"]);
  });

  it("a LayerNorm feeding only a linear is applied on load, in the matmul's prologue", () => {
    expect(summary(kernelsOf(`  output y = linear(layernorm(x, "ln"), "fc", 20)`, true))).toEqual(["matmul: reduce sub mul reduce add rsqrt mul mul add matmul add"]);
    expect(summary(kernelsOf(`  output y = linear(layernorm(x, "ln"), "fc", 20)`))).toEqual(["row: reduce sub mul reduce add rsqrt mul mul add", "matmul: matmul add"]);
  });

  it("a LayerNorm that is also an output is written, not recomputed", () => {
    expect(kernelsOf(`  h = layernorm(x, "ln")\n  output h = h\n  output y = linear(h, "fc", 20)`, true).kernels.map((k) => k.kind)).toEqual(["row", "matmul"]);
  });

  it("an activation stays in the producer's epilogue rather than the consumer's prologue", () => {
    expect(summary(kernelsOf(`  output y = linear(quick_gelu(linear(x, "a", 20)), "b", 12)`))).toEqual(["matmul: matmul add mul sigmoid mul", "matmul: matmul add"]);
  });

  it("linears reading the same input (q, k, v) merge into one matmul over concatenated weights", () => {
    const plan = kernelsOf(`  h = layernorm(x, "ln")\n  output y = attention(linear(h, "q", 12), linear(h, "k", 12), linear(h, "v", 12), 3)`, true);
    expect(summary(plan)).toEqual(["matmul: reduce sub mul reduce add rsqrt mul mul add concat concat matmul concat concat add", "attention: slice slice slice attention"]);
  });

  it("a residual add joins the epilogue", () => {
    expect(summary(kernelsOf(`  output y = x + linear(x, "fc", 12)`))).toEqual(["matmul: matmul add add"]);
  });

  it("a contraction concatenated behind a class token is computed inside the consuming kernel", () => {
    const plan = compileGraph(compileOk(`model m {\n  input p: f32[B, 3, 20, 20]\n  x = prepend_token(patch_embed(p, "pe", 8, 4), param("cls", [8]))\n  output y = layernorm(x + param("pos", [26, 8]), "ln")\n}`).graph);
    expect(plan.kernels.map((k) => k.kind)).toEqual(["row"]);
  });

  it("a contraction whose slices feed elementwise math is not inlined (SwiGLU stays a tiled matmul)", () => {
    const plan = kernelsOf(`  output y = linear(x, "gate", 20, bias = false) * linear(x, "up", 20, bias = false)`);
    expect(plan.kernels.map((k) => k.kind)).toEqual(["matmul", "pointwise"]);
  });

  it("a 2x2 spatial merge and a pixel unshuffle cost no kernel: they fold into the next matmul's loads", () => {
    const merge = compileGraph(compileOk(`model m {\n  input x: f32[B, 16, 6]\n  output y = linear(merge2x2(x, 4, 4), "fc", 8)\n}`).graph);
    expect(summary(merge)).toEqual(["matmul: reshape permute reshape matmul add"]);
    const unshuffle = compileGraph(compileOk(`model m {\n  input x: f32[B, 3, 8, 8]\n  p = pixel_unshuffle(x, 2)\n  output y = linear(permute(reshape(p, [dim(x, 0), 12, 16]), [0, 2, 1]), "fc", 8)\n}`).graph);
    expect(unshuffle.kernels.map((k) => k.kind)).toEqual(["matmul"]);
  });

  it("conv2d's im2col is a view folded into the matmul's loads", () => {
    const plan = compileGraph(compileOk(`model m {\n  input x: f32[B, 3, 9, 9]\n  output y = reshape(conv2d(x, "c", 4, 3, stride = 2, padding = 1), [dim(x, 0), 4 * 25])\n}`).graph);
    expect(summary(plan)[0]).toMatch(/^matmul: .*im2col.*matmul/);
  });

  it("patchify views fold into the loads of the patch-embedding matmul", () => {
    const plan = compileGraph(compileOk(`model m {\n  input p: f32[B, 3, 20, 20]\n  output y = patch_embed(p, "pe", 8, 4)\n}`).graph);
    expect(summary(plan)).toEqual(["matmul: reshape reshape permute reshape matmul add"]);
  });

  it("attention is one kernel, its head split a view and cheap math on its operands folded in", () => {
    expect(summary(kernelsOf("  output y = attention(x, x * 2, x, 3)"))).toEqual(["attention: mul attention"]);
  });

  it("a rotary embedding folds into attention's loads of q and k", () => {
    const plan = compileGraph(compileOk(`model m {\n  input x: f32[B, 9, 12]\n  input cos: f32[9, 4]\n  input sin: f32[9, 4]\n  output y = attention(rotary(x, cos, sin, 3), rotary(x, cos, sin, 3), x, 3)\n}`).graph);
    expect(plan.kernels.map((k) => k.kind)).toEqual(["attention"]);
  });

  it("expensive math before attention is written once, not recomputed per key", () => {
    expect(kernelsOf("  output y = attention(x, exp(x), x, 3)").kernels.map((k) => k.kind)).toEqual(["pointwise", "attention"]);
  });

  it("a value used by two kernels is written once", () => {
    const plan = kernelsOf(`  h = linear(x, "a", 12)\n  output y = linear(h, "b", 12) + linear(h, "c", 12)`);
    expect(plan.kernels).toHaveLength(3);
  });

  it("--no-fuse compiles one primitive per kernel", () => {
    const p = compileOk(`model m {\n  input x: f32[B, 9, 12]\n  output y = layernorm(x, "ln")\n}`);
    const plan = compileGraph(p.graph, { fuse: false });
    expect(plan.kernels.every((k) => k.nodes.length === 1)).toBe(true);
    expect(plan.kernels).toHaveLength(9);
  });
});

describe("kernel counts per graph", () => {
  const count = (graph: string, layers: number, normsOnLoad: boolean): number => {
    const preset = graph.includes("clip") ? "l14" : "base16";
    return compileGraph(compileFile(graph, { preset, overrides: { layers: String(layers) } }).graph, { fuse: true, normsOnLoad }).kernels.length;
  };

  it.each([
    ["graphs/clip.tsr", false, 7, 3],
    ["graphs/vit.tsr", false, 7, 3],
    ["graphs/clip.tsr", true, 5, 2],
    ["graphs/vit.tsr", true, 5, 3],
  ])("%s (L/14, B/16; norms on load: %s): each block %i kernels, embeddings and head %i", (graph, normsOnLoad, perBlock, outside) => {
    expect(count(graph, 2, normsOnLoad) - count(graph, 1, normsOnLoad)).toBe(perBlock);
    expect(count(graph, 1, normsOnLoad) - perBlock).toBe(outside);
  });

  it("CLIP ViT-B/32 compiles to 88 dispatches but only 10 distinct pipelines (dims are uniforms)", () => {
    const plan = compileGraph(compileFile("graphs/clip.tsr", { preset: "b32" }).graph);
    expect(plan.kernels).toHaveLength(88);
    expect(new Set(plan.kernels.map((k) => k.wgsl)).size).toBe(10);
  });

  it.each(["b16", "l14", "l14_336"])("CLIP %s: patch embedding, class token, position embedding and pre-norm are one kernel", (preset) => {
    const plan = compileGraph(compileFile("graphs/clip.tsr", { preset }).graph);
    expect(summary(plan)[0]).toBe("row: reshape reshape permute reshape matmul reshape broadcast concat add reduce sub mul reduce add rsqrt mul mul add");
  });

  it("reuses arena buffers by liveness", () => {
    const plan = compileGraph(compileFile("graphs/clip.tsr", { preset: "b32" }).graph);
    expect(plan.slotCount).toBeLessThanOrEqual(6);
  });
});
