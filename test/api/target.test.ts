import { describe, expect, it } from "vitest";
import { compile, load } from "../../api/index.ts";
import { kernelShape } from "../../compiler/explain/kernel-shape.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";

// The GPU class's plan (workgroup-memory matmul and attention kernels) run on this machine's adapter:
// the same outputs as the CPU class's plan, on checkpoints transformers saved and real images.
const TOL = 1e-4;
const images = (...names: string[]): string[] => names.map((n) => `test/fixtures/images/${n}`);

const cases: { graph: string; weights: string; images: string[] }[] = [
  { graph: "vit", weights: "test/fixtures/vit", images: images("odd-rgba.png") },
  { graph: "clip", weights: "test/fixtures/clip", images: images("wide.png") },
  { graph: "qwen2-vl", weights: "test/fixtures/qwen2-vl", images: images("odd-rgba.png", "tall-gray.png") },
  { graph: "deepseek-vl2", weights: "test/fixtures/deepseek-vl2", images: images("tall-gray.png") },
];

describe.concurrent("load(..., { target: 'gpu' }) against { target: 'cpu' } on this adapter", () => {
  it.each(cases)("$graph", async ({ graph, weights, images: paths }) => {
    const compiled = compile(graph, { weights });
    const cpu = await load(compiled, { target: "cpu", tuned: false });
    const gpu = await load(compiled, { target: "gpu", tuned: false });
    expect([cpu.plan.targetClass, gpu.plan.targetClass]).toEqual(["cpu", "gpu"]);
    const shaped = gpu.plan.kernels.filter((k) => k.kind === "matmul" || k.kind === "attention");
    expect(shaped.length).toBeGreaterThan(0);
    for (const k of shaped) {
      const { workgroupSize, workgroupMemoryBytes } = kernelShape(k.wgsl);
      expect(workgroupSize, k.name).toBeGreaterThanOrEqual(64);
      expect(workgroupMemoryBytes, k.name).toBeGreaterThan(0);
    }
    const [want, got] = [await cpu.run(paths), await gpu.run(paths)];
    cpu.dispose();
    gpu.dispose();
    expect(Object.keys(got.outputs)).toEqual(Object.keys(want.outputs));
    for (const [name, t] of Object.entries(want.outputs)) {
      expect(got.outputs[name].shape, name).toEqual(t.shape);
      expect(maxAbsDiff(got.outputs[name], t), name).toBeLessThanOrEqual(TOL);
    }
  });
});
