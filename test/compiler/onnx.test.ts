import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compileFile } from "../../compiler/frontend.ts";
import { exportOnnx, OnnxExportError } from "../../compiler/emit/onnx.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { Checkpoint } from "../../runtime/weights/checkpoint.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { compileOk } from "../helpers/compile.ts";

describe("ONNX export of the graph IR (what the benchmark peers run)", () => {
  it("the ViT fixture, exported and run by ONNX Runtime's CPU provider, matches the PyTorch reference", async () => {
    const checkpoint = Checkpoint.open("test/fixtures/vit");
    const program = compileFile("graphs/vit.tsr", { checkpointConfig: checkpoint.config, preprocessorConfig: checkpoint.preprocessorConfig, hasWeight: (n) => checkpoint.has(n) });
    const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
    const pixels = ref.read("pixel_values");
    const model = exportOnnx(program.graph, checkpoint.loadFor(program.graph, program.prefixes), { B: pixels.shape[0] });
    const session = await ort.InferenceSession.create(model, { executionProviders: ["cpu"] });
    const out = await session.run({ pixel_values: new ort.Tensor("float32", pixels.data as Float32Array, pixels.shape) });
    for (const name of ["last_hidden_state", "image_embeds"]) {
      const t = out[name];
      expect(maxAbsDiff({ shape: [...t.dims], data: t.data as Float32Array }, ref.read(name)), name).toBeLessThan(1e-4);
    }
    await session.release();
  });

  it("says which operation it cannot write", () => {
    const p = compileOk(`model t {\n  input x: f32[1, 3, 8, 8]\n  output y = resize2d(x, 4, 4, "bilinear")\n}`);
    expect(() => exportOnnx(p.graph, new Map(), {})).toThrow(OnnxExportError);
    expect(() => exportOnnx(p.graph, new Map(), {})).toThrow("does not write 'resize2d'");
  });
});
