import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { compileGraph } from "../../compiler/compile.ts";
import { getGpu } from "../../runtime/device.ts";
import { InputError } from "../../core/errors.ts";
import { Executor } from "../../runtime/executor/executor.ts";
import { interpret } from "../../runtime/reference/interpreter.ts";
import { maxAbsDiff, tensor, type HostTensor } from "../../runtime/tensor.ts";
import { randomTensor, randomWeights, rng } from "../../runtime/weights/random.ts";
import { compileOk } from "../helpers/compile.ts";
import { compareWithReference } from "../helpers/gpu.ts";
import { reliable } from "../helpers/reliability.ts";

// f32 on the GPU against the float64-accumulating CPU reference. The tolerance covers f32 rounding of
// sums over up to a few hundred terms, far below any indexing or fusion bug: 2e-4 absolute for values
// up to 10 (TOL), and relative beyond that (REL_TOL times the largest value).
const TOL = 2e-4;
const REL_TOL = TOL / 10;

interface Case {
  name: string;
  src: string;
  inputs: Record<string, number[]>;
  kernels?: number;
  tol?: number;
}

const cases: Case[] = [
  {
    name: "elementwise chain with broadcasting",
    src: `input x: f32[3, 7, 13]\n  output y = gelu(x * 2 + param("b", [13])) - tanh(x) * sigmoid(x) + erf(x) / (1 + abs(x))`,
    inputs: { x: [3, 7, 13] },
    kernels: 1,
  },
  {
    name: "gelu_tanh, quick_gelu, relu, exp/log/sqrt, min/max",
    src: `input x: f32[5, 11]\n  output y = gelu_tanh(x) + quick_gelu(x) + relu(x) + log(exp(x) + 1) + sqrt(abs(x)) + maximum(x, x * 0.5) + minimum(x, 0.1)`,
    inputs: { x: [5, 11] },
    kernels: 1,
  },
  {
    name: "views: slice, permute, reshape, concat, broadcast",
    src: `input x: f32[2, 6, 10]\n  a = permute(reshape(slice(x, 1, 1, 5), [2, 4, 2, 5]), [0, 2, 3, 1])\n  b = broadcast_to(reshape(param("t", [20]), [1, 2, 5, 2]), [2, 2, 5, 2])\n  output y = concat([a, b, a * 3], 3)`,
    inputs: { x: [2, 6, 10] },
    kernels: 1,
  },
  {
    name: "layernorm over 67 (not a multiple of the 64 threads)",
    src: `input x: f32[2, 5, 67]\n  output y = layernorm(x, "ln", eps = 1e-6)`,
    inputs: { x: [2, 5, 67] },
    kernels: 1,
  },
  {
    name: "layernorm over a long row",
    src: `input x: f32[3, 1000]\n  output y = layernorm(x, "ln")`,
    inputs: { x: [3, 1000] },
    kernels: 1,
  },
  { name: "rmsnorm", src: `input x: f32[4, 33]\n  output y = rmsnorm(x, "n")`, inputs: { x: [4, 33] }, kernels: 1 },
  {
    name: "softmax over 129",
    src: `input x: f32[3, 129]\n  e = exp(x - max(x))\n  output y = e / sum(e)`,
    inputs: { x: [3, 129] },
    kernels: 1,
  },
  {
    name: "reductions along axes other than the last",
    src: `input x: f32[5, 6, 7]\n  output s = sum(x, 1)\n  output m = max(x, 0)\n  output a = mean(x * x, -3)`,
    inputs: { x: [5, 6, 7] },
  },
  {
    name: "linear with bias and gelu epilogue, odd sizes",
    src: `input x: f32[2, 33, 19]\n  output y = gelu(linear(x, "fc", 35))`,
    inputs: { x: [2, 33, 19] },
    kernels: 1,
  },
  {
    name: "linear with residual epilogue, K = 1",
    src: `input x: f32[7, 1]\n  output y = linear(x, "fc", 1) + x`,
    inputs: { x: [7, 1] },
    kernels: 1,
  },
  {
    name: "2 rows in front of a linear's result and a position table in its epilogue, N = 10 (split-K), batch 2",
    src: `input x: f32[2, 7, 70]\n  t = broadcast_to(param("cls", [1, 2, 10]), [2, 2, 10])\n  output y = concat([t, linear(x, "patch", 10)], 1) + param("pos", [9, 10])`,
    inputs: { x: [2, 7, 70] },
    kernels: 1,
  },
  {
    name: "a class token and position table in a linear's epilogue, LayerNorm after (CLIP's embedding)",
    src: `input x: f32[2, 5, 70]\n  t = broadcast_to(param("cls", [1, 1, 16]), [2, 1, 16])\n  output y = layernorm(concat([t, linear(x, "patch", 16, bias = false)], 1) + param("pos", [6, 16]), "ln")`,
    inputs: { x: [2, 5, 70] },
    kernels: 2,
  },
  {
    name: "batched matmul with broadcast batch",
    src: `input a: f32[2, 3, 17, 5]\n  input b: f32[1, 3, 9, 5]\n  output y = matmul_nt(a, b)`,
    inputs: { a: [2, 3, 17, 5], b: [1, 3, 9, 5] },
    kernels: 1,
  },
  {
    name: "matmul through a permuted operand",
    src: `input a: f32[4, 6, 10]\n  output y = matmul_nt(permute(a, [0, 2, 1]), param("w", [13, 6]))`,
    inputs: { a: [4, 6, 10] },
    kernels: 1,
  },
  {
    name: "attention, 3 heads of 7, 13 tokens",
    src: `input x: f32[2, 13, 21]\n  output y = attention(x, x * 0.5, x + 1, 3)`,
    inputs: { x: [2, 13, 21] },
  },
  {
    name: "causal attention, 3 heads of 5, 9 tokens",
    src: `input x: f32[2, 9, 15]\n  output y = attention(x, x * 0.5, x + 1, 3, causal = true)`,
    inputs: { x: [2, 9, 15] },
  },
  {
    name: "relative-position biases, 2 heads, 3 x 4 key grid",
    src: `input x: f32[2, 12, 8]\n  input rb: f32[2, 12, 6]\n  input cb: f32[2, 12, 8]\n  output y = attention(x, x * 0.5, x + 1, 2, row_bias = rb, col_bias = cb)`,
    inputs: { x: [2, 12, 8], rb: [2, 12, 6], cb: [2, 12, 8] },
  },
  {
    name: "cross attention, 1 query and 70 keys",
    src: `input q: f32[2, 1, 8]\n  input k: f32[2, 70, 8]\n  output y = attention(q * 2, k, k, 2)`,
    inputs: { q: [2, 1, 8], k: [2, 70, 8] },
    kernels: 1,
  },
  {
    name: "patch embedding with unread border pixels",
    src: `input p: f32[2, 3, 23, 19]\n  output y = patch_embed(p, "pe", 10, 4)`,
    inputs: { p: [2, 3, 23, 19] },
    kernels: 1,
  },
  {
    name: "LayerNorm folded past a linear, K = 37 (not a multiple of 4)",
    src: `input x: f32[3, 10, 37]\n  output y = linear(layernorm(x, "ln"), "fc", 9)`,
    inputs: { x: [3, 10, 37] },
    kernels: 1,
  },
  {
    name: "LayerNorm folded past a linear on rows whose mean is 8 times their deviation",
    src: `input x: f32[5, 9, 24]\n  h = x * 0.5 + 4\n  output y = gelu(linear(layernorm(h, "ln", eps = 1e-6), "fc", 11))`,
    inputs: { x: [5, 9, 24] },
    kernels: 2,
  },
  {
    name: "LayerNorm without gain and bias, folded through a view of its input",
    src: `input x: f32[2, 7, 12]\n  h = slice(x, 1, 1, 7)\n  n = h - mean(h)\n  output y = linear(n * rsqrt(mean(n * n) + 1e-5), "fc", 5)`,
    inputs: { x: [2, 7, 12] },
    kernels: 1,
  },
  {
    name: "LayerNorm on load of merged rows (a Qwen2-VL merger: per-patch norm, 2x2 merge), C = 5",
    src: `input x: f32[1, 28, 5]\n  output y = gelu(linear(reshape(layernorm(x, "ln", eps = 1e-6), [7, 20]), "fc", 9))`,
    inputs: { x: [1, 28, 5] },
    kernels: 1,
  },
  {
    name: "LayerNorm on load of merged rows when B is computed, not a weight (the split-K kernel's prologue)",
    src: `input x: f32[1, 12, 5]\n  input w: f32[7, 20]\n  output y = matmul_nt(reshape(layernorm(x, "ln"), [3, 20]), w * 2)`,
    inputs: { x: [1, 12, 5], w: [7, 20] },
    kernels: 2,
  },
  {
    name: "a position table resized once at load time (a parameter-only computation)",
    src: `input x: f32[2, 6, 8, 3]\n  t = resize2d(param("pos", [6, 5, 4]), 8, 3, mode = "bicubic")\n  output y = x + t`,
    inputs: { x: [2, 6, 8, 3] },
    kernels: 1,
  },
  {
    name: "a packed parameter read through slices of its rows (uploaded as its parts)",
    src: `input x: f32[3, 5]\n  w = param("w", [12, 5])\n  output y = matmul_nt(x, slice(w, 0, 0, 4)) * 2 + matmul_nt(x, slice(w, 0, 8, 12))`,
    inputs: { x: [3, 5] },
  },
  {
    name: "RMSNorm folded past merged sibling linears without bias",
    src: `input x: f32[13, 20]\n  h = rmsnorm(x, "n")\n  output y = concat([linear(h, "gate", 7, bias = false) * linear(h, "up", 7, bias = false), linear(h, "z", 3, bias = false)], 1)`,
    inputs: { x: [13, 20] },
  },
  {
    name: "patch embedding, class token, position embedding and pre-norm in one kernel",
    src: `input p: f32[2, 3, 23, 19]\n  x = prepend_token(patch_embed(p, "pe", 10, 4, bias = false), param("cls", [10]))\n  output y = layernorm(x + param("pos", [21, 10]), "ln")`,
    inputs: { p: [2, 3, 23, 19] },
    kernels: 1,
  },
  {
    name: "ViT-style embedding (conv bias, class token, position embedding) in one kernel",
    src: `input p: f32[2, 3, 12, 12]\n  x = prepend_token(patch_embed(p, "pe", 7, 4), param("cls", [7]))\n  output y = x + param("pos", [10, 7])`,
    inputs: { p: [2, 3, 12, 12] },
    kernels: 1,
  },
  {
    name: "2x2 merge folded into the loads of a linear",
    src: `input x: f32[2, 24, 5]\n  output y = linear(merge2x2(x, 4, 6), "fc", 9)`,
    inputs: { x: [2, 24, 5] },
    kernels: 1,
  },
  {
    name: "pixel unshuffle folded into the loads of a linear",
    src: `input x: f32[1, 3, 6, 4]\n  p = pixel_unshuffle(x, 2)\n  output y = linear(permute(reshape(p, [1, 12, 6]), [0, 2, 1]), "fc", 5)`,
    inputs: { x: [1, 3, 6, 4] },
    kernels: 1,
  },
  {
    name: "rotary embedding applied on load of q (and written once for k), dh = 6",
    src: `input x: f32[2, 9, 18]\n  input cos: f32[9, 6]\n  input sin: f32[9, 6]\n  output y = attention(rotary(x, cos, sin, 3), rotary(x * 0.5, cos, sin, 3), x, 3)`,
    inputs: { x: [2, 9, 18], cos: [9, 6], sin: [9, 6] },
    kernels: 2,
  },
  {
    name: "padding (27 -> 28 grid, as DeepSeek-VL2 pads before its 2x2 downsample) folded into a linear's loads",
    src: `input x: f32[2, 27, 27, 4]\n  p = pad(pad(x, 1, 0, 1), 2, 0, 1, value = 0.5)\n  output y = linear(reshape(p, [2, 28 * 28, 4]), "fc", 6)`,
    inputs: { x: [2, 27, 27, 4] },
    kernels: 1,
  },
  {
    name: "conv2d 3x3, stride 2, padding 1 on odd sizes (im2col view feeding a matmul)",
    src: `input x: f32[2, 3, 9, 7]\n  output y = conv2d(x, "conv", 5, 3, stride = 2, padding = 1)`,
    inputs: { x: [2, 3, 9, 7] },
  },
  {
    name: "conv2d 1x1 and 2x2 without bias",
    src: `input x: f32[1, 4, 6, 5]\n  output y = conv2d(conv2d(x, "a", 3, 1, bias = false), "b", 2, 2)`,
    inputs: { x: [1, 4, 6, 5] },
  },
  // With every weight scaled by 20, attention logits reach the hundreds: the softmax multiplies the f32
  // rounding of q and k (each a sequential sum over K in the register-blocked matmul) by that much.
  {
    name: "a whole pre-LN transformer block",
    src: `input x: f32[2, 11, 24]\n  h = x + self_attention(layernorm(x, "ln1"), 4, "q", "k", "v", "o")\n  output y = h + mlp(layernorm(h, "ln2"), "fc1", "fc2", 40, "quick_gelu")`,
    inputs: { x: [2, 11, 24] },
    tol: 5 * REL_TOL,
  },
];

describe("every kernel template against the CPU reference, fused and unfused", () => {
  it.each(cases)("$name", async ({ src, inputs, kernels, tol = REL_TOL }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const r = await compareWithReference(g, inputs);
    for (const [name, diff] of Object.entries(r.fused)) expect(diff, `fused ${name}`).toBeLessThan(tol);
    for (const [name, diff] of Object.entries(r.unfused)) expect(diff, `unfused ${name}`).toBeLessThan(REL_TOL);
    if (kernels !== undefined) expect(r.kernels.fused).toBe(kernels);
    expect(r.kernels.unfused).toBeGreaterThanOrEqual(r.kernels.fused);
  });
});

describe("symbolic batch", () => {
  it("runs batch 1 and batch 3 on the same compiled kernels", async () => {
    const p = compileOk(`model t {\n  input x: f32[B, 5, 16]\n  output y = mlp(layernorm(x, "ln"), "fc1", "fc2", 24, "gelu")\n}`);
    const plan = compileGraph(p.graph);
    const weights = randomWeights(p.graph, 3);
    const ex = await Executor.load(await getGpu(), plan, weights);
    try {
      for (const batch of [1, 3, 2]) {
        const x = randomTensor([batch, 5, 16], rng(batch));
        const want = interpret(p.graph, new Map([["x", x]]), weights, { B: batch }).get("y") as HostTensor;
        const got = (await ex.run(new Map([["x", x]]))).outputs.get("y") as HostTensor;
        expect(got.shape).toEqual([batch, 5, 16]);
        expect(maxAbsDiff(got, want)).toBeLessThan(TOL);
      }
      await expect(ex.run(new Map([["x", randomTensor([2, 6, 16], rng(1))]]))).rejects.toThrow(
        "input 'x' has shape [2, 6, 16], but the graph expects [B, 5, 16]",
      );
    } finally {
      ex.dispose();
    }
  });
});

describe("f16 storage against the f32 reference", () => {
  // Weights and activations round to 11-bit mantissas at every kernel boundary; arithmetic is f32.
  // Errors are measured relative to the largest reference value.
  const F16_TOL = 1e-2;
  it.each(
    cases.filter((c) =>
      [
        "a whole pre-LN transformer block",
        "layernorm over a long row",
        "linear with bias and gelu epilogue, odd sizes",
        "attention, 3 heads of 7, 13 tokens",
        "views: slice, permute, reshape, concat, broadcast",
      ].includes(c.name),
    ),
  )("$name", async ({ src, inputs }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const rand = rng(11);
    const ins = new Map<string, HostTensor>(Object.entries(inputs).map(([name, shape]) => [name, randomTensor(shape, rand)]));
    const weights = randomWeights(g, 12);
    const want = interpret(g, ins, weights, {});
    const ctx = await getGpu();
    expect(ctx.features).toContain("shader-f16");
    const ex = await Executor.load(ctx, compileGraph(g, { fuse: true, storage: "f16" }), weights);
    try {
      const got = (await ex.run(ins)).outputs;
      for (const [name, t] of want) {
        const scale = Math.max(...Array.from(t.data, Math.abs), 1e-3);
        expect(maxAbsDiff(got.get(name) as HostTensor, t) / scale, name).toBeLessThan(F16_TOL);
      }
    } finally {
      ex.dispose();
    }
  });
});

describe("segmented attention (several images of different sizes in one sequence)", () => {
  it("each segment attends only within itself, as if run alone", async () => {
    const p = compileOk(
      `model t {\n  input x: f32[1, 11, 12]\n  input seg: i32[4]\n  output y = attention(x * 0.5 + 1, x, x, 3, segments = seg)\n}`,
    );
    const alone = compileOk(`model t {\n  input x: f32[1, 4, 12]\n  output y = attention(x * 0.5 + 1, x, x, 3)\n}`);
    const x = randomTensor([1, 11, 12], rng(5));
    const seg: HostTensor = { shape: [4], data: new Float32Array([0, 3, 7, 11]) };
    const inputs = new Map([
      ["x", x],
      ["seg", seg],
    ]);
    const want = interpret(p.graph, inputs, new Map(), {}).get("y") as HostTensor;
    // Independent check of the reference itself: the middle segment equals attention over its 4 tokens alone.
    const middle: HostTensor = { shape: [1, 4, 12], data: x.data.slice(3 * 12, 7 * 12) };
    const aloneOut = interpret(alone.graph, new Map([["x", middle]]), new Map(), {}).get("y") as HostTensor;
    expect(maxAbsDiff({ shape: [1, 4, 12], data: want.data.slice(3 * 12, 7 * 12) }, aloneOut)).toBeLessThan(1e-6);
    const ctx = await getGpu();
    for (const [fuse, storage] of [
      [true, "f32"],
      [false, "f32"],
      [true, "f16"],
    ] as const) {
      const plan = compileGraph(p.graph, { fuse, storage });
      if (fuse) expect(plan.kernels).toHaveLength(1);
      const ex = await Executor.load(ctx, plan, new Map());
      const got = (await ex.run(inputs)).outputs.get("y") as HostTensor;
      ex.dispose();
      expect(maxAbsDiff(got, want), `fuse=${fuse} ${storage}`).toBeLessThan(storage === "f16" ? 2e-2 : TOL);
    }
  });

  it("a causal mask: the prefix of a sequence comes out as if the rest were not there", () => {
    const p = compileOk(`model t {\n  input x: f32[1, 10, 12]\n  output y = attention(x * 0.5 + 1, x, x, 3, causal = true)\n}`);
    const prefix = compileOk(`model t {\n  input x: f32[1, 6, 12]\n  output y = attention(x * 0.5 + 1, x, x, 3)\n}`);
    const x = randomTensor([1, 10, 12], rng(8));
    const y = interpret(p.graph, new Map([["x", x]]), new Map(), {}).get("y") as HostTensor;
    // Token 5 under the causal mask sees tokens 0..5: the last token of attention over those 6 alone.
    const alone = interpret(prefix.graph, new Map([["x", { shape: [1, 6, 12], data: x.data.slice(0, 72) }]]), new Map(), {}).get(
      "y",
    ) as HostTensor;
    expect(maxAbsDiff({ shape: [12], data: y.data.slice(60, 72) }, { shape: [12], data: alone.data.slice(60, 72) })).toBeLessThan(1e-6);
    // Token 0 sees only itself: its output is its own value.
    expect(maxAbsDiff({ shape: [12], data: y.data.slice(0, 12) }, { shape: [12], data: x.data.slice(0, 12) })).toBeLessThan(1e-6);
  });

  it("relative-position biases: the reference adds rowBias[t, h, s / KW] + colBias[t, h, s % KW] to each logit", () => {
    const p = compileOk(
      `model t {\n  input x: f32[1, 6, 4]\n  input rb: f32[1, 6, 4]\n  input cb: f32[1, 6, 6]\n  output y = attention(x, x, x, 2, row_bias = rb, col_bias = cb)\n}`,
    );
    const [x, rb, cb] = [randomTensor([1, 6, 4], rng(21)), randomTensor([1, 6, 4], rng(22)), randomTensor([1, 6, 6], rng(23))];
    const y = interpret(
      p.graph,
      new Map([
        ["x", x],
        ["rb", rb],
        ["cb", cb],
      ]),
      new Map(),
      {},
    ).get("y") as HostTensor;
    // Query 4, head 1 (channels 2..3), keys on a 2 x 3 grid, written out.
    const [t, h, dh] = [4, 1, 2];
    const logits = Array.from(
      { length: 6 },
      (_, s) =>
        (x.data[t * 4 + h * dh] * x.data[s * 4 + h * dh] + x.data[t * 4 + h * dh + 1] * x.data[s * 4 + h * dh + 1]) / Math.sqrt(dh) +
        rb.data[t * 4 + h * 2 + Math.floor(s / 3)] +
        cb.data[t * 6 + h * 3 + (s % 3)],
    );
    const e = logits.map((l) => Math.exp(l - Math.max(...logits)));
    const want = [0, 1].map((c) => e.reduce((acc, p, s) => acc + p * x.data[s * 4 + h * dh + c], 0) / e.reduce((a, b) => a + b, 0));
    expect(Math.abs(y.data[t * 4 + h * dh] - want[0]) + Math.abs(y.data[t * 4 + h * dh + 1] - want[1])).toBeLessThan(1e-6);
    expect(() =>
      compileOk(
        `model t {\n  input x: f32[1, 6, 4]\n  input rb: f32[1, 6, 4]\n  input cb: f32[1, 6, 4]\n  output y = attention(x, x, x, 2, row_bias = rb, col_bias = cb)\n}`,
      ),
    ).toThrow("the biases describe a 2 x 2 key grid, but there are 6 keys");
  });

  it("antialiased bilinear and bicubic resize (torch interpolate antialias=True): reference and GPU against PyTorch's values", async () => {
    const ref = SafetensorsFile.open("test/fixtures/reference/resize-antialias.safetensors");
    const x = ref.read("x");
    const ctx = await getGpu();
    for (const [name, h, w, mode] of [
      ["down_4x5", 4, 5, "bilinear"],
      ["down_7x3", 7, 3, "bilinear"],
      ["up_17x20", 17, 20, "bilinear"],
      ["bicubic_down_4x5", 4, 5, "bicubic"],
      ["bicubic_up_17x20", 17, 20, "bicubic"],
    ] as const) {
      const p = compileOk(`model t {\n  input x: f32[2, 3, 11, 13]\n  output y = resize2d(x, ${h}, ${w}, "${mode}", antialias = true)\n}`);
      const want = ref.read(name);
      const cpu = interpret(p.graph, new Map([["x", x]]), new Map(), {}).get("y") as HostTensor;
      expect(maxAbsDiff(cpu, want), `${name} reference`).toBeLessThan(1e-6);
      const ex = await Executor.load(ctx, compileGraph(p.graph, { fuse: true, storage: "f32" }), new Map());
      const got = (await ex.run(new Map([["x", x]]))).outputs.get("y") as HostTensor;
      ex.dispose();
      expect(maxAbsDiff(got, want), `${name} GPU`).toBeLessThan(1e-5);
    }
  });

  it("refuses arithmetic on index tensors", () => {
    expect(() => compileOk(`model t {\n  input seg: i32[4]\n  output y = seg * 2\n}`)).toThrow(
      "i32 tensors hold indices (attention segments); they cannot be used by binary",
    );
  });
});

describe("window attention: gather, segmented attention, inverse gather", () => {
  it("window reordering folds into attention's loads and matches the reference", async () => {
    const p = compileOk(`model t {
  input x: f32[1, 8, 12]
  input order: i32[8]
  input inverse: i32[8]
  input windows: i32[3]
  w = gather(x, 1, order)
  output y = gather(attention(w * 0.5, w, w, 3, segments = windows), 1, inverse)
}`);
    const order = [4, 5, 0, 1, 6, 7, 2, 3];
    const inverse = order.map((_, i) => order.indexOf(i));
    const inputs = new Map<string, HostTensor>([
      ["x", randomTensor([1, 8, 12], rng(9))],
      ["order", { shape: [8], data: new Float32Array(order) }],
      ["inverse", { shape: [8], data: new Float32Array(inverse) }],
      ["windows", { shape: [3], data: new Float32Array([0, 4, 8]) }],
    ]);
    const want = interpret(p.graph, inputs, new Map(), {}).get("y") as HostTensor;
    const plan = compileGraph(p.graph);
    expect(plan.kernels.map((k) => k.kind)).toEqual(["attention", "pointwise"]);
    const ex = await Executor.load(await getGpu(), plan, new Map());
    try {
      expect(maxAbsDiff((await ex.run(inputs)).outputs.get("y") as HostTensor, want)).toBeLessThan(TOL);
      const bad = new Map(inputs).set("order", { shape: [8], data: new Float32Array([0, 1, 2, 3, 4, 5, 6, 9]) });
      await expect(ex.run(bad)).rejects.toThrow("input 'order'[7] = 9 is not an index in [0, 8)");
    } finally {
      ex.dispose();
    }
  });
});

describe("a gather of rows moved onto a linear's input", () => {
  it("gives the rows of the gathered output, fused and unfused", async () => {
    const p = compileOk(
      `model t {\n  input x: f32[9, 12]\n  input order: i32[9]\n  output y = gather(gelu(linear(x, "fc", 8)), 0, order)\n}`,
    );
    const inputs = new Map([
      ["x", randomTensor([9, 12], rng(3))],
      ["order", tensor([9], [4, 0, 8, 2, 7, 1, 6, 3, 5])],
    ]);
    const weights = randomWeights(p.graph, 3);
    const want = interpret(p.graph, inputs, weights, {}).get("y") as HostTensor;
    for (const fuse of [true, false]) {
      const plan = compileGraph(p.graph, { fuse });
      const ex = await Executor.load(await getGpu(), plan, weights);
      expect(maxAbsDiff((await ex.run(inputs)).outputs.get("y") as HostTensor, want)).toBeLessThan(TOL);
      ex.dispose();
      if (fuse) expect(plan.kernels).toHaveLength(1);
    }
  });
});

describe("determinism and concurrency", () => {
  it("gives bit-identical outputs across runs and executors, and concurrent runs equal sequential ones", async () => {
    const p = compileOk(
      `model t {\n  input x: f32[B, 7, 16]\n  h = x + self_attention(layernorm(x, "ln1"), 4, "q", "k", "v", "o")\n  output y = h + mlp(layernorm(h, "ln2"), "fc1", "fc2", 24, "gelu")\n}`,
    );
    const plan = compileGraph(p.graph);
    const weights = randomWeights(p.graph, 4);
    const ctx = await getGpu();
    const [a, b] = [randomTensor([2, 7, 16], rng(1)), randomTensor([3, 7, 16], rng(2))];
    const first = await Executor.load(ctx, plan, weights);
    const second = await Executor.load(ctx, plan, weights);
    try {
      const ya = (await first.run(new Map([["x", a]]))).outputs.get("y") as HostTensor;
      const yb = (await first.run(new Map([["x", b]]))).outputs.get("y") as HostTensor;
      const again = (await second.run(new Map([["x", a]]))).outputs.get("y") as HostTensor;
      expect(Buffer.from(again.data.buffer).equals(Buffer.from(ya.data.buffer))).toBe(true);
      const [ca, cb] = await Promise.all([first.run(new Map([["x", a]])), first.run(new Map([["x", b]]))]);
      expect(Buffer.from((ca.outputs.get("y") as HostTensor).data.buffer).equals(Buffer.from(ya.data.buffer))).toBe(true);
      expect(Buffer.from((cb.outputs.get("y") as HostTensor).data.buffer).equals(Buffer.from(yb.data.buffer))).toBe(true);
      reliable({
        area: "determinism",
        case: "the same inputs run twice, and on a second executor of the same plan (a transformer block)",
        tried: 3,
        outcome: "bit-identical outputs",
      });
      reliable({
        area: "device",
        case: "two runs at once on one executor and device",
        tried: 2,
        outcome: "bit-identical to the same runs one at a time",
      });
    } finally {
      first.dispose();
      second.dispose();
    }
  });
});

describe("device limits and faults", () => {
  it("a run on a lost device fails with a clear error, and the next load opens a new device that gives the same result", async () => {
    const p = compileOk(`model t {\n  input x: f32[3, 8]\n  output y = gelu(linear(x, "fc", 4))\n}`);
    const plan = compileGraph(p.graph);
    const weights = randomWeights(p.graph, 5);
    const inputs = new Map([["x", randomTensor([3, 8], rng(5))]]);
    const ctx = await getGpu();
    const ex = await Executor.load(ctx, plan, weights);
    const before = (await ex.run(inputs)).outputs.get("y") as HostTensor;
    ctx.device.destroy();
    await ctx.device.lost;
    await expect(ex.run(inputs)).rejects.toThrow(/WebGPU device was lost \(.*\) before running t; load the plan again/);
    const fresh = await getGpu();
    expect(fresh.device).not.toBe(ctx.device);
    const again = await Executor.load(fresh, plan, weights);
    expect(Array.from(((await again.run(inputs)).outputs.get("y") as HostTensor).data)).toEqual(Array.from(before.data));
    again.dispose();
    reliable({
      area: "device",
      case: "device lost between runs (GPUDevice.destroy())",
      tried: 1,
      outcome: "the run fails with one clear error; the next load opens a new device and gives the same result",
    });
  });

  it("a grid of more than 65535 workgroups is folded into two dimensions and computes every element", async () => {
    const n = 65_536 * 256 + 77;
    const p = compileOk(`model t {\n  input x: f32[${n}]\n  output y = x * 2 + 1\n}`);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (i % 1000) - 500;
    const ex = await Executor.load(await getGpu(), compileGraph(p.graph), new Map());
    const y = (await ex.run(new Map([["x", { shape: [n], data: x }]]))).outputs.get("y") as HostTensor;
    ex.dispose();
    let wrong = 0;
    for (let i = 0; i < n; i++) if (y.data[i] !== x[i] * 2 + 1) wrong++;
    expect(wrong).toBe(0);
    reliable({
      area: "device",
      case: `a kernel needing ${Math.ceil(n / 256)} workgroups (more than 65535 in one dimension)`,
      tried: 1,
      outcome: "folded into a 2-D grid; all elements right",
    });
  });

  it("a tensor larger than one storage binding allows is refused before dispatch, naming it", async () => {
    const ctx = await getGpu();
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 1024;
    const p = compileOk(`model t {\n  input x: f32[${n}]\n  output y = x + 1\n}`);
    const ex = await Executor.load(ctx, compileGraph(p.graph), new Map());
    await expect(ex.run(new Map([["x", { shape: [n], data: new Float32Array(n) }]]))).rejects.toThrow(/intermediate|input 'x'|output/);
    await expect(ex.run(new Map([["x", { shape: [n], data: new Float32Array(n) }]]))).rejects.toThrow(InputError);
    ex.dispose();
    reliable({
      area: "device",
      case: `a ${((n * 4) / 2 ** 20).toFixed(1)} MiB tensor, over the adapter's ${(limit / 2 ** 20).toFixed(0)} MiB storage-binding limit`,
      tried: 1,
      outcome: "one error before dispatch naming the tensor, its size and the limit",
    });
  });
});

describe("conv2d against a hand-computed case", () => {
  it("a 2x2 box filter with padding 1 and stride 2 on 1..9", async () => {
    const p = compileOk(
      `model t {\n  input x: f32[1, 1, 3, 3]\n  output y = conv2d(x, "box", 1, 2, stride = 2, padding = 1, bias = false)\n}`,
    );
    const inputs = new Map([["x", tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])]]);
    const weights = new Map([["box.weight", tensor([1, 1, 2, 2], [1, 1, 1, 1])]]);
    expect(Array.from((interpret(p.graph, inputs, weights, {}).get("y") as HostTensor).data)).toEqual([1, 5, 11, 28]);
    const ex = await Executor.load(await getGpu(), compileGraph(p.graph), weights);
    const got = (await ex.run(inputs)).outputs.get("y") as HostTensor;
    ex.dispose();
    expect(got.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(got.data)).toEqual([1, 5, 11, 28]);
  });
});

describe("resize2d (torch interpolate, align_corners=False) against the spec's vectors (towers-a §7.7)", () => {
  const run = async (src: string, x: HostTensor): Promise<{ cpu: HostTensor; gpu: HostTensor }> => {
    const p = compileOk(`model t {\n  ${src}\n}`);
    const inputs = new Map([["x", x]]);
    const cpu = interpret(p.graph, inputs, new Map(), {}).get("y") as HostTensor;
    const ex = await Executor.load(await getGpu(), compileGraph(p.graph), new Map());
    const gpu = (await ex.run(inputs)).outputs.get("y") as HostTensor;
    ex.dispose();
    return { cpu, gpu };
  };

  it("bicubic 2x2 -> 4x4", async () => {
    const want = [
      -0.316406, 0.015625, 0.5625, 0.894531, 0.347656, 0.679688, 1.226562, 1.558594, 1.441406, 1.773438, 2.320312, 2.652344, 2.105469,
      2.4375, 2.984375, 3.316406,
    ];
    const { cpu, gpu } = await run("input x: f32[1, 2, 2]\n  output y = resize2d(x, 4, 4)", tensor([1, 2, 2], [0, 1, 2, 3]));
    want.forEach((w, i) => {
      expect(Math.abs(cpu.data[i] - w)).toBeLessThan(2e-6);
      expect(Math.abs(gpu.data[i] - w)).toBeLessThan(2e-6);
    });
  });

  it("bicubic 3x3 -> 5x5 (rows 0, 2, 4), with clamped edges", async () => {
    const rows: Record<number, number[]> = {
      0: [-0.384, 0.028, 0.712, 1.396, 1.808],
      2: [2.904, 3.316, 4.0, 4.684, 5.096],
      4: [6.192, 6.604, 7.288, 7.972, 8.384],
    };
    const { cpu, gpu } = await run(
      "input x: f32[2, 3, 3]\n  output y = resize2d(x, 5, 5)",
      tensor([2, 3, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
    );
    for (const [r, want] of Object.entries(rows)) {
      want.forEach((w, c) => {
        // The CPU reference accumulates in float64; the GPU sums 16 f32 products: about 1e-6 relative.
        expect(Math.abs(cpu.data[25 + Number(r) * 5 + c] - w)).toBeLessThan(2e-6);
        expect(Math.abs(gpu.data[25 + Number(r) * 5 + c] - w)).toBeLessThan(1e-6 * Math.max(1, Math.abs(w)));
      });
    }
  });

  it("bilinear 2x2 -> 4x4", async () => {
    const want = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
    const { cpu, gpu } = await run(
      'input x: f32[1, 2, 2]\n  output y = resize2d(x, 4, 4, mode = "bilinear")',
      tensor([1, 2, 2], [0, 1, 2, 3]),
    );
    expect(Array.from(cpu.data)).toEqual(want);
    want.forEach((w, i) => expect(Math.abs(gpu.data[i] - w)).toBeLessThan(1e-6));
  });

  it("a 16x16 table to 32x32 (Qwen-VL's position table) matches the reference on random values", async () => {
    const p = compileOk("model t {\n  input x: f32[3, 16, 16]\n  output y = resize2d(x, 32, 32)\n}");
    const r = await compareWithReference(p.graph, { x: [3, 16, 16] });
    expect(r.fused.y).toBeLessThan(REL_TOL);
  });
});
