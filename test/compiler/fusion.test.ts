import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { compileFile } from "../../compiler/frontend.ts";
import type { Plan } from "../../core/plan.ts";
import { compileOk } from "../helpers/compile.ts";

const kernelsOf = (body: string): Plan => compileGraph(compileOk(`model m {\n  input x: f32[B, 9, 12]\n${body}\n}`).graph, { fuse: true });
const summary = (plan: Plan): string[] =>
  plan.kernels.map(
    (k) =>
      `${k.kind}: ${k.nodes
        .map((n) => {
          const op = plan.graph.nodes[n].op;
          return op.kind === "unary" || op.kind === "binary" ? op.fn : op.kind;
        })
        .join(" ")}`,
  );

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
    expect(summary(kernelsOf(`  output y = quick_gelu(linear(x, "fc", 20))`))).toEqual(["matmul: permute matmul add mul sigmoid mul"]);
  });

  it("a LayerNorm feeding only a linear moves past it: statistics accumulate in the matmul, gains fold into prepared weights", () => {
    const plan = kernelsOf(`  output y = linear(layernorm(x, "ln"), "fc", 20)`);
    expect(summary(plan)).toEqual([
      "matmul: slice sub reduce mul reduce mul sub max add rsqrt permute matmul mul reshape mul mul sub reshape add add",
    ]);
    // W * gain, its row sums, and bias . W: computed once, at load time.
    expect(plan.prepare?.graph.outputs).toHaveLength(3);
    expect(plan.graph.nodes.flatMap((n) => (n.op.kind === "param" ? [n.op.name] : [])).sort()).toEqual([
      "fc.bias",
      "~prepared/0",
      "~prepared/1",
      "~prepared/2",
    ]);
  });

  it("computations on parameters alone (a resized position table) run once at load time, views of parameters stay", () => {
    const plan = compileGraph(
      compileOk(
        `model m {\n  input x: f32[B, 6, 8, 3]\n  output y = x + resize2d(param("pos", [6, 5, 4]), 8, 3) + reshape(param("b", [3]), [1, 3])\n}`,
      ).graph,
    );
    expect(summary(plan.prepare as Plan)).toEqual(["pointwise: resize2d"]);
    expect(summary(plan)).toEqual(["pointwise: add reshape add"]);
  });

  it("a view of inputs read by several kernels (window-order rotary tables) is folded into each, not written", () => {
    const plan = compileGraph(
      compileOk(
        `model m {\n  input x: f32[B, 9, 12]\n  input cos: f32[9, 4]\n  input sin: f32[9, 4]\n  input order: i32[9]\n  c = gather(cos, 0, order)\n  s = gather(sin, 0, order)\n  h = attention(rotary(x, c, s, 3), rotary(x, c, s, 3), x, 3)\n  output y = attention(rotary(h, c, s, 3), rotary(h, c, s, 3), h, 3)\n}`,
      ).graph,
    );
    // Only the rotated keys are written; no kernel computes the gathered tables alone.
    expect(plan.kernels.map((k) => k.kind)).toEqual(["pointwise", "attention", "pointwise", "attention"]);
    expect(plan.kernels.every((k) => k.nodes.some((n) => plan.graph.nodes[n].op.kind !== "gather"))).toBe(true);
  });

  it("a gather of rows after a linear layer moves onto the layer's input and folds into its loads", () => {
    const plan = compileGraph(
      compileOk(`model m {\n  input x: f32[9, 12]\n  input order: i32[9]\n  output y = gather(gelu(linear(x, "fc", 8)), 0, order)\n}`)
        .graph,
    );
    expect(summary(plan)).toEqual(["matmul: gather permute matmul add mul mul erf add mul"]);
  });

  it("a parameter read only through row slices becomes one parameter per slice", () => {
    const plan = compileGraph(
      compileOk(
        `model m {\n  input x: f32[3, 5]\n  w = param("w", [12, 5])\n  output y = matmul_nt(x, slice(w, 0, 0, 4)) + matmul_nt(x, slice(w, 0, 8, 12))\n}`,
      ).graph,
      { fuse: false },
    );
    expect(plan.graph.nodes.flatMap((n) => (n.op.kind === "param" ? [`${n.op.name} ${n.op.rows?.join(":")}`] : []))).toEqual([
      "w 0:4",
      "w 8:12",
    ]);
  });

  it("an RMSNorm feeding a linear needs one statistic and no shift", () => {
    expect(summary(kernelsOf(`  output y = linear(rmsnorm(x, "ln"), "fc", 20, bias = false)`))).toEqual([
      "matmul: mul reduce add rsqrt permute matmul mul",
    ]);
  });

  it("a normalisation of rows the matmul sees merged (Qwen2-VL's merger) is applied on load, its statistics per merged row", () => {
    const plan = compileGraph(
      compileOk(`model m {\n  input x: f32[1, 16, 6]\n  output y = gelu(linear(reshape(layernorm(x, "ln"), [4, 24]), "fc", 8))\n}`).graph,
    );
    expect(plan.kernels.map((k) => k.kind)).toEqual(["matmul"]);
    expect(summary(plan)[0]).toMatch(/^matmul: reduce sub mul reduce .*reshape permute matmul/);
  });

  it("a LayerNorm that is also an output is written, not recomputed", () => {
    expect(kernelsOf(`  h = layernorm(x, "ln")\n  output h = h\n  output y = linear(h, "fc", 20)`).kernels.map((k) => k.kind)).toEqual([
      "row",
      "matmul",
    ]);
  });

  it("an activation stays in the producer's epilogue rather than the consumer's prologue", () => {
    expect(summary(kernelsOf(`  output y = linear(quick_gelu(linear(x, "a", 20)), "b", 12)`))).toEqual([
      "matmul: permute matmul add mul sigmoid mul",
      "matmul: permute matmul add",
    ]);
  });

  it("linears reading the same input (q, k, v) merge into one matmul over concatenated weights", () => {
    const plan = kernelsOf(
      `  h = layernorm(x, "ln")\n  output y = attention(linear(h, "q", 12), linear(h, "k", 12), linear(h, "v", 12), 3)`,
    );
    expect(summary(plan)).toEqual([
      "matmul: slice sub reduce mul reduce mul sub max add rsqrt permute matmul mul reshape mul mul sub reshape add concat concat add",
      "attention: slice slice slice attention",
    ]);
  });

  it("a residual add joins the epilogue", () => {
    expect(summary(kernelsOf(`  output y = x + linear(x, "fc", 12)`))).toEqual(["matmul: permute matmul add add"]);
  });

  it("a contraction concatenated behind a class token is computed inside the consuming kernel", () => {
    const plan = compileGraph(
      compileOk(
        `model m {\n  input p: f32[B, 3, 20, 20]\n  x = prepend_token(patch_embed(p, "pe", 8, 4), param("cls", [8]))\n  output y = layernorm(x + param("pos", [26, 8]), "ln")\n}`,
      ).graph,
    );
    expect(plan.kernels.map((k) => k.kind)).toEqual(["row"]);
  });

  it("SwiGLU's gate and up stay two matmuls (not merged): the second one's epilogue takes the product", () => {
    const plan = kernelsOf(`  output y = linear(x, "gate", 20, bias = false) * sigmoid(linear(x, "up", 20, bias = false))`);
    expect(plan.kernels.map((k) => k.kind)).toEqual(["matmul", "matmul"]);
    expect(plan.kernels[1].nodes.map((n) => plan.graph.nodes[n].op.kind)).toEqual(expect.arrayContaining(["matmul", "unary", "binary"]));
  });

  it("a 2x2 spatial merge and a pixel unshuffle cost no kernel: they fold into the next matmul's loads", () => {
    const merge = compileGraph(compileOk(`model m {\n  input x: f32[B, 16, 6]\n  output y = linear(merge2x2(x, 4, 4), "fc", 8)\n}`).graph);
    expect(summary(merge)).toEqual(["matmul: reshape permute reshape permute matmul add"]);
    const unshuffle = compileGraph(
      compileOk(
        `model m {\n  input x: f32[B, 3, 8, 8]\n  p = pixel_unshuffle(x, 2)\n  output y = linear(permute(reshape(p, [dim(x, 0), 12, 16]), [0, 2, 1]), "fc", 8)\n}`,
      ).graph,
    );
    expect(unshuffle.kernels.map((k) => k.kind)).toEqual(["matmul"]);
  });

  it("conv2d's im2col is a view folded into the matmul's loads", () => {
    const plan = compileGraph(
      compileOk(
        `model m {\n  input x: f32[B, 3, 9, 9]\n  output y = reshape(conv2d(x, "c", 4, 3, stride = 2, padding = 1), [dim(x, 0), 4 * 25])\n}`,
      ).graph,
    );
    expect(summary(plan)[0]).toMatch(/^matmul: .*im2col.*matmul/);
  });

  it("patchify views fold into the loads of the patch-embedding matmul", () => {
    const plan = compileGraph(compileOk(`model m {\n  input p: f32[B, 3, 20, 20]\n  output y = patch_embed(p, "pe", 8, 4)\n}`).graph);
    expect(summary(plan)).toEqual(["matmul: reshape permute reshape permute matmul add"]);
  });

  it("attention is one kernel, its head split a view and cheap math on its queries folded in", () => {
    expect(summary(kernelsOf("  output y = attention(x * 2, x, x, 3)"))).toEqual(["attention: mul attention"]);
  });

  it("a rotary embedding folds into attention's loads of q; on k it is written once, not redone for every query", () => {
    const plan = compileGraph(
      compileOk(
        `model m {\n  input x: f32[B, 9, 12]\n  input cos: f32[9, 4]\n  input sin: f32[9, 4]\n  output y = attention(rotary(x, cos, sin, 3), rotary(x * 2, cos, sin, 3), x, 3)\n}`,
      ).graph,
    );
    expect(plan.kernels.map((k) => k.kind)).toEqual(["pointwise", "attention"]);
    expect(summary(plan)[1]).toMatch(/neg.*concat.*attention/);
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
  const count = (graph: string, layers: number): number => {
    const presets: Record<string, string> = {
      "graphs/clip.tsr": "l14",
      "graphs/siglip.tsr": "so400m14_384",
      "graphs/vit.tsr": "base16",
      "graphs/deepseek-vl2.tsr": "tiny",
      "graphs/pixtral.tsr": "mistral-small-3.1",
    };
    const preset = presets[graph] ?? "";
    const depth = graph.includes("qwen2") || graph.includes("qwen3") ? "depth" : "layers";
    return compileGraph(compileFile(graph, { preset: preset || undefined, overrides: { [depth]: String(layers) } }).graph, { fuse: true })
      .kernels.length;
  };

  it.each([
    // Outside: the patch embedding with the class token and positions in its epilogue, the pre-norm, the head.
    ["graphs/clip.tsr", 5, 3],
    // Outside: the patch embedding with the class token and positions, the final LayerNorm, the pooler.
    ["graphs/vit.tsr", 5, 3],
    // SigLIP's head: post-norm (an output), then MAP attention pooling with its own LayerNorm and MLP.
    ["graphs/siglip.tsr", 5, 9],
    // Qwen blocks: the rotary embedding of k is written once (each query would otherwise redo it for
    // every key), so one kernel more per block.
    ["graphs/qwen2-vl.tsr", 6, 4],
    // The SwiGLU product of two slices of one matmul is a kernel of its own, with the folded RMSNorm's
    // statistic: 7 per block.
    // Outside the blocks: the patch embedding (window order folded in), last_hidden_state put back in
    // raster order (an output, so written), and the merger's two matmuls with the inverse window order
    // folded into the second one's loads.
    ["graphs/qwen2.5-vl.tsr", 7, 4],
    // Outside: SigLIP's embedding, post-norm, the 2x2 downsample + first projector linear + GELU, the
    // second linear, and the newline/separator assembly.
    ["graphs/deepseek-vl2.tsr", 5, 5],
    // Outside: the bigG embedding and ln_pre, the resampler (kv projection, norms, q/k/v, attention,
    // out projection), ln_post and the projection.
    ["graphs/qwen-vl.tsr", 5, 12],
    // Outside: SigLIP's embedding, the post-norm (an output) and the projector.
    ["graphs/paligemma.tsr", 5, 3],
    // Outside: the patch embedding with the class token and resized position table, the final LayerNorm, the class row.
    ["graphs/dinov2.tsr", 5, 3],
    // Outside: SigLIP's embedding, the post-norm (an output), the pool with the RMSNorm's statistic, the projection.
    ["graphs/gemma3.tsr", 5, 4],
    // Outside: the patch embedding with class token and positions, the pixel shuffle with the projector's
    // LayerNorm and first linear, the second (which writes image_embeds: no copy for a reshape).
    ["graphs/internvl.tsr", 5, 3],
    // Outside: SigLIP's embedding, the post-norm (an output), the pixel shuffle folded into the projection's loads.
    ["graphs/idefics3.tsr", 5, 3],
    // Pixtral's SwiGLU blocks are Qwen2.5-VL's 7. Outside: the unpadding patch embedding, ln_pre (a row and its
    // scaling, the residual stream), the first block's norm statistic, the projector's norm, the merger with the
    // unfold order in its loads, and the two projector linears.
    ["graphs/pixtral.tsr", 7, 8],
    // Outside: the patch embedding with the resized positions (their weights times the table, then the add), the
    // key mask's bias and the zero column bias, post-norm, and the masked pooling head.
    ["graphs/siglip2.tsr", 5, 12],
    // Qwen2-VL's 6 per block. Outside: the position table's taps, the patch embedding with them added,
    // last_hidden_state as [N, D] (an output), and the merger's two matmuls.
    ["graphs/qwen3-vl.tsr", 6, 5],
  ])("%s: each block %i kernels, embeddings, merger and head %i", (graph, perBlock, outside) => {
    // From 2 and 3 blocks: Qwen2.5-VL's first window-attention block brings the window reordering along.
    expect(count(graph, 3) - count(graph, 2)).toBe(perBlock);
    expect(count(graph, 2) - 2 * perBlock).toBe(outside);
  });

  it("Qwen2-VL's merger is two kernels: merge + LayerNorm + linear + GELU, then the second linear", () => {
    const plan = compileGraph(compileFile("graphs/qwen2-vl.tsr", { overrides: { depth: "1" } }).graph);
    const lines = readFileSync("graphs/qwen2-vl.tsr", "utf8").split("\n");
    const mergerLines = new Set(lines.flatMap((l, i) => (l.includes("visual.merger.") ? [i + 1] : [])));
    const merger = plan.kernels.filter((k) =>
      k.nodes.some((n) => plan.graph.nodes[n].source.some((s) => s.file === "graphs/qwen2-vl.tsr" && mergerLines.has(s.line))),
    );
    expect(merger.map((k) => k.kind)).toEqual(["matmul", "matmul"]);
    expect(merger[0].nodes.map((n) => plan.graph.nodes[n].op.kind)).toEqual(
      expect.arrayContaining(["reduce", "reshape", "matmul", "unary"]),
    );
  });

  it("CLIP ViT-B/32 compiles to 63 dispatches but only 8 distinct pipelines (dims are uniforms)", () => {
    const plan = compileGraph(compileFile("graphs/clip.tsr", { preset: "b32" }).graph);
    expect(plan.kernels).toHaveLength(63);
    expect(new Set(plan.kernels.map((k) => k.wgsl)).size).toBe(8);
  });

  it.each([
    ["graphs/vit.tsr", "embeddings.cls_token"],
    ["graphs/clip.tsr", "vision_model.embeddings.class_embedding"],
    ["graphs/siglip.tsr", null],
  ])("%s embeds in one kernel: patch matmul, class token (%s) and position table", (graph, classToken) => {
    const plan = compileGraph(compileFile(graph).graph);
    const reads = (name: string): number[] =>
      plan.kernels.flatMap((k, i) =>
        k.nodes.some((n) =>
          plan.graph.nodes[n].inputs.some((x) => {
            const op = plan.graph.nodes[x].op;
            return op.kind === "param" && op.name.includes(name);
          }),
        )
          ? [i]
          : [],
      );
    expect(plan.kernels[0].kind).toBe("matmul");
    expect(reads("position_embedding")).toEqual([0]);
    if (classToken) expect(reads(classToken)).toEqual([0]);
  });

  it.each(["b16", "l14", "l14_336"])(
    "CLIP %s: the patch embedding (patchify folded in) writes the class token and adds the positions in its epilogue; the pre-norm is one more",
    (preset) => {
      const plan = compileGraph(compileFile("graphs/clip.tsr", { preset }).graph);
      expect(summary(plan).slice(0, 2)).toEqual([
        "matmul: reshape permute reshape permute matmul reshape broadcast concat add",
        "row: reduce sub mul reduce add rsqrt mul mul add",
      ]);
    },
  );

  it("reuses arena buffers by liveness", () => {
    const plan = compileGraph(compileFile("graphs/clip.tsr", { preset: "b32" }).graph);
    expect(plan.slotCount).toBeLessThanOrEqual(6);
  });
});
