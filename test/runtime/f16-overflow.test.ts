import { describe, expect, it } from "vitest";
import { compile, F16OverflowError, load } from "../../api/index.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { reliable } from "../helpers/reliability.ts";

// The ViT fixture with weights scaled so that activations pass f16's largest value (65504) while the
// f32 result stays finite: the MLP's hidden layer (fc1 x 30000, fc2 / 30000) and the residual stream
// (the attention's output projection x 60000, before a LayerNorm). No weight itself passes 65504.

const VIT = "test/fixtures/vit";
const pixels = SafetensorsFile.open("test/fixtures/reference/vit.safetensors").read("pixel_values");

function scaled(edit: (name: string, t: HostTensor) => Float32Array | null): Map<string, HostTensor> {
  const f = SafetensorsFile.open(`${VIT}/model.safetensors`);
  const out = new Map<string, HostTensor>();
  for (const name of f.tensors.keys()) {
    const t = f.read(name);
    out.set(name, { shape: t.shape, data: edit(name, t) ?? t.data });
  }
  f.close();
  return out;
}

const CASES = {
  "the MLP's hidden layer": scaled((name, t) =>
    name === "encoder.layer.0.intermediate.dense.weight" || name === "encoder.layer.0.intermediate.dense.bias"
      ? t.data.map((v) => v * 30000)
      : name === "encoder.layer.0.output.dense.weight"
        ? t.data.map((v) => v / 30000)
        : null,
  ),
  "the residual stream": scaled((name, t) =>
    name === "encoder.layer.0.attention.output.dense.weight" ? t.data.map((v) => v * 60000) : null,
  ),
};

const largest = (t: HostTensor): number => t.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe("f16 storage never overflows silently", () => {
  it.each(Object.entries(CASES))(
    "activations past 65504 in %s: f32 is finite; f16 fails naming the kernel and tensor",
    async (what, weights) => {
      const f32 = await load(compile("vit", { weights: VIT }), { weights });
      const exact = await f32.run({ pixel_values: pixels });
      f32.dispose();
      expect(Object.values(exact.outputs).every((t) => t.data.every(Number.isFinite))).toBe(true);
      const f16 = await load(compile("vit", { weights: VIT, dtype: "f16" }), { weights });
      const failed = await f16.run({ pixel_values: pixels }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(F16OverflowError);
      expect((failed as Error).message).toMatch(
        /^f16 overflow in vit: kernel \d+ \(k\d+_\w+\) stored tensor %\d+ \[B, \d+, \d+\] made at graphs\/vit\.tsr:\d+:\d+ with values beyond f16's range/,
      );
      // The model fails the same way again, and the device goes on serving: the unscaled model runs in f16 next.
      await expect(f16.run({ pixel_values: pixels })).rejects.toThrow((failed as Error).message);
      f16.dispose();
      const plain = await load(compile("vit", { weights: VIT, dtype: "f16" }));
      const { outputs } = await plain.run({ pixel_values: pixels });
      plain.dispose();
      expect(outputs.last_hidden_state.data.every(Number.isFinite)).toBe(true);
      reliable({
        area: "device",
        case: `f16 storage with activations in ${what} past 65504 (largest f32 output ${largest(exact.outputs.last_hidden_state).toFixed(1)})`,
        tried: 1,
        outcome: "F16OverflowError naming the kernel, the tensor and its graph-file line, every time; the device serves the next model",
      });
    },
  );

  it("a weight beyond f16's range is refused at load, naming it", async () => {
    const weights = scaled((name, t) => (name === "layernorm.weight" ? t.data.map((v, i) => (i === 3 ? 1e6 : v)) : null));
    await expect(load(compile("vit", { weights: VIT, dtype: "f16" }), { weights })).rejects.toThrow(
      "weight 'layernorm.weight' holds 1000000 (element 3), beyond f16's range (±65504)",
    );
  });
});
