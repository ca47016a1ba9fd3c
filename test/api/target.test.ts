import { describe, expect, it } from "vitest";
import { compile, load } from "../../api/index.ts";
import { kernelShape } from "../../compiler/explain/kernel-shape.ts";
import { maxAbsDiff, type HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";

// The GPU class's plan (workgroup-memory matmul and attention kernels) run on this machine's adapter,
// against what transformers computed in float64 for the same checkpoints and images (the references
// test/bin/run.test.ts checks the CPU class's plan against, with the same tolerance). A reference, not the
// CPU class's plan on this adapter: that plan's pipelines, at this file's four lavapipe lanes, were compiled
// for this comparison alone.
const TOL = 1e-4;
const reference = (name: string): SafetensorsFile => SafetensorsFile.open(`test/fixtures/reference/${name}.safetensors`);
const images = (...names: string[]): string[] => names.map((n) => `test/fixtures/images/${n}`);

interface Case {
  graph: string;
  weights: string;
  /** Image paths, or the processor's pixel_values in the reference. */
  images?: string[];
  reference: string;
}

/** Outputs that transformers' references hold under the same names. */
const COMPARED = ["last_hidden_state", "image_embeds"];

const cases: Case[] = [
  {
    graph: "vit",
    weights: "test/fixtures/vit",
    images: images("odd-rgba.png", "demo.png"),
    reference: "vit",
  },
  {
    graph: "clip",
    weights: "test/fixtures/clip",
    reference: "clip",
  },
  {
    graph: "qwen2-vl",
    weights: "test/fixtures/qwen2-vl",
    images: images("odd-rgba.png", "tall-gray.png"),
    reference: "qwen2-vl",
  },
  {
    graph: "deepseek-vl2",
    weights: "test/fixtures/deepseek-vl2",
    images: images("demo.png", "tall-gray.png"),
    reference: "deepseek-vl2",
  },
];

describe.concurrent("load(..., { target: 'gpu' }) on this adapter, against transformers", () => {
  it.each(cases)("$graph", async ({ graph, weights, images: paths, reference: name }) => {
    const ref = reference(name);
    const model = await load(compile(graph, { weights }), { target: "gpu", tuned: false });
    expect(model.plan.targetClass).toBe("gpu");
    const shaped = model.plan.kernels.filter((k) => k.kind === "matmul" || k.kind === "attention");
    expect(shaped.length).toBeGreaterThan(0);
    for (const k of shaped) {
      const { workgroupSize, workgroupMemoryBytes } = kernelShape(k.wgsl);
      expect(workgroupSize, k.name).toBeGreaterThanOrEqual(64);
      expect(workgroupMemoryBytes, k.name).toBeGreaterThan(0);
    }
    const { outputs } = await model.run(paths ?? { pixel_values: ref.read("pixel_values") });
    model.dispose();
    for (const output of COMPARED) {
      const want = ref.read(output);
      const got = outputs[output] as HostTensor;
      expect(got.shape, output).toEqual(want.shape);
      expect(maxAbsDiff(got, want), output).toBeLessThanOrEqual(TOL);
    }
  });
});
