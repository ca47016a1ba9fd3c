import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compileFile } from "../../compiler/frontend.ts";
import { exportOnnx, OnnxExportError } from "../../compiler/emit/onnx.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { Checkpoint } from "../../runtime/weights/checkpoint.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { compileOk } from "../helpers/compile.ts";
import { interpret } from "../../runtime/reference/interpreter.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { randomTensor, randomWeights, rng } from "../../runtime/weights/random.ts";

describe("ONNX export of the graph IR (what the benchmark peers run)", () => {
  it("the ViT fixture, exported and run by ONNX Runtime's CPU provider, matches the PyTorch reference", async () => {
    const checkpoint = Checkpoint.open("test/fixtures/vit");
    const program = compileFile("graphs/vit.tsr", {
      checkpointConfig: checkpoint.config,
      preprocessorConfig: checkpoint.preprocessorConfig,
      hasWeight: (n) => checkpoint.has(n),
    });
    const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
    const pixels = ref.read("pixel_values");
    const model = exportOnnx(program.graph, checkpoint.loadFor(program.graph, program), { B: pixels.shape[0] });
    const session = await ort.InferenceSession.create(model, { executionProviders: ["cpu"] });
    const out = await session.run({ pixel_values: new ort.Tensor("float32", pixels.data as Float32Array, pixels.shape) });
    for (const name of ["last_hidden_state", "image_embeds"]) {
      const t = out[name];
      expect(maxAbsDiff({ shape: [...t.dims], data: t.data as Float32Array }, ref.read(name)), name).toBeLessThan(1e-4);
    }
    await session.release();
  });

  it("names a weight it does not have", () => {
    const p = compileOk(`model t {\n  input x: f32[1, 4]\n  output y = linear(x, "fc", 3)\n}`);
    expect(() => exportOnnx(p.graph, new Map(), {})).toThrow(OnnxExportError);
    expect(() => exportOnnx(p.graph, new Map(), {})).toThrow("no weight 'fc.weight' to export");
  });

  // Each operation the bench peers need beyond plain ViT, run by ONNX Runtime's CPU provider against
  // the CPU reference interpreter on random inputs and weights.
  const cases: { name: string; src: string; inputs: Record<string, number[]>; given?: Record<string, number[]> }[] = [
    {
      name: "conv2d 3x3, stride 2, padding 1 (im2col)",
      src: `input x: f32[2, 3, 9, 7]\n  output y = conv2d(x, "conv", 5, 3, stride = 2, padding = 1)`,
      inputs: { x: [2, 3, 9, 7] },
    },
    {
      name: "bilinear upscale, bicubic, antialiased bilinear downscale",
      src: `input x: f32[1, 2, 7, 6]\n  output a = resize2d(x, 11, 9, "bilinear")\n  output b = resize2d(x, 10, 13)\n  output c = resize2d(x, 3, 4, "bilinear", antialias = true)`,
      inputs: { x: [1, 2, 7, 6] },
    },
    {
      name: "bicubic resize of a 3-D table (Qwen-VL's position embedding)",
      src: `input x: f32[5, 4, 4]\n  output y = resize2d(x, 6, 6)`,
      inputs: { x: [5, 4, 4] },
    },
    {
      name: "causal attention",
      src: `input x: f32[2, 9, 12]\n  output y = attention(x, x * 0.5, x + 1, 3, causal = true)`,
      inputs: { x: [2, 9, 12] },
    },
    {
      name: "segmented attention",
      src: `input x: f32[1, 11, 12]\n  input seg: i32[4]\n  output y = attention(x * 0.5 + 1, x, x, 3, segments = seg)`,
      inputs: { x: [1, 11, 12] },
      given: { seg: [0, 3, 7, 11] },
    },
    {
      name: "relative-position biases",
      src: `input x: f32[2, 12, 8]\n  input rb: f32[2, 12, 6]\n  input cb: f32[2, 12, 8]\n  output y = attention(x, x * 0.5, x + 1, 2, row_bias = rb, col_bias = cb)`,
      inputs: { x: [2, 12, 8], rb: [2, 12, 6], cb: [2, 12, 8] },
    },
  ];
  it.each(cases)("$name matches the reference interpreter", async ({ src, inputs, given = {} }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const rand = rng(3);
    const host = new Map<string, HostTensor>(Object.entries(inputs).map(([n, shape]) => [n, randomTensor(shape, rand)]));
    for (const [n, values] of Object.entries(given)) host.set(n, { shape: [values.length], data: Float32Array.from(values) });
    const weights = randomWeights(g, 4);
    const want = interpret(g, host, weights, {});
    const session = await ort.InferenceSession.create(exportOnnx(g, weights, {}), { executionProviders: ["cpu"] });
    const feeds = Object.fromEntries(
      g.inputs.map((i) => {
        const t = host.get(i.name) as HostTensor;
        return [
          i.name,
          g.nodes[i.node].dtype === "i32"
            ? new ort.Tensor("int32", Int32Array.from(t.data), t.shape)
            : new ort.Tensor("float32", t.data as Float32Array, t.shape),
        ];
      }),
    );
    const out = await session.run(feeds);
    for (const [name, t] of want) {
      const got = out[name];
      const scale = Math.max(1, ...Array.from(t.data, Math.abs));
      expect(maxAbsDiff({ shape: [...got.dims], data: got.data as Float32Array }, t) / scale, name).toBeLessThan(1e-5);
    }
    await session.release();
  });
});
