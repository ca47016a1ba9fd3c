import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { getGpu } from "../../runtime/device.ts";
import { Executor } from "../../runtime/executor/executor.ts";
import { erf, interpret } from "../../runtime/reference/interpreter.ts";
import { tensor, type HostTensor } from "../../runtime/tensor.ts";
import { compileOk } from "../helpers/compile.ts";

// Test vectors of the model spec (towers-a §7.2, §7.3), float64 values.
const xs = [-2, -1, -0.5, 0.5, 1, 2, 3];
const activations: Record<string, number[]> = {
  gelu: [-0.045500264, -0.158655254, -0.154268769, 0.345731231, 0.841344746, 1.954499736, 2.995950306],
  gelu_tanh: [-0.045402306, -0.158808009, -0.15428599, 0.34571401, 0.841191991, 1.954597694, 2.996362608],
  quick_gelu: [-0.064341377, -0.154204234, -0.149611563, 0.350388437, 0.845795766, 1.935658623, 2.98192869],
};

async function both(
  src: string,
  inputs: Record<string, HostTensor>,
  params: Record<string, HostTensor> = {},
): Promise<{ cpu: Map<string, HostTensor>; gpu: Map<string, HostTensor> }> {
  const g = compileOk(`model t {\n${src}\n}`).graph;
  const ins = new Map(Object.entries(inputs));
  const ps = new Map(Object.entries(params));
  const cpu = interpret(g, ins, ps, {});
  const ex = await Executor.load(await getGpu(), compileGraph(g), ps);
  const gpu = (await ex.run(ins)).outputs;
  ex.dispose();
  return { cpu, gpu };
}

const expectValues = (t: HostTensor | undefined, want: readonly number[], tol: number): void => {
  expect(t?.data.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs((t?.data[i] ?? NaN) - w), `index ${i}`).toBeLessThan(tol));
};

describe("prelude activations match the spec's float64 table", () => {
  it.each(Object.keys(activations))("%s on CPU and GPU", async (act) => {
    const { cpu, gpu } = await both(`  input x: f32[7]\n  output y = ${act}(x)`, { x: tensor([7], xs) });
    expectValues(cpu.get("y"), activations[act], 2e-7);
    expectValues(gpu.get("y"), activations[act], 1e-6);
  });

  it("erf is accurate to double precision", () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(-1.5)).toBeCloseTo(-0.9661051464753108, 15);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 15);
  });
});

describe("layernorm eps and attention vectors", () => {
  it.each([
    [1e-12, [-1.341640786, -0.447213595, 0.447213595, 1.341640786], [0.9999995]],
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: the expected value as PyTorch printed it
    [1e-6, [-1.34164025, -0.44721342, 0.44721342, 1.34164025], [0.70710678]],
    [1e-5, [-1.34163542, -0.44721181, 0.44721181, 1.34163542], [0.30151134]],
  ])("eps %s", async (eps, want, small) => {
    const ones = { "ln.weight": tensor([4], [1, 1, 1, 1]), "ln.bias": tensor([4], [0, 0, 0, 0]) };
    const src = `  input x: f32[2, 4]\n  output y = layernorm(x, "ln", eps = ${eps})`;
    const { cpu, gpu } = await both(src, { x: tensor([2, 4], [1, 2, 3, 4, 1e-3, -1e-3, 1e-3, -1e-3]) }, ones);
    const full = [...want, small[0], -small[0], small[0], -small[0]];
    expectValues(cpu.get("y"), full, 1e-6);
    expectValues(gpu.get("y"), full, 2e-5);
  });

  it("single-head attention example", async () => {
    const { cpu, gpu } = await both(
      "  input q: f32[1, 1, 2]\n  input k: f32[1, 2, 2]\n  input v: f32[1, 2, 2]\n  output y = attention(q, k, v, 1)",
      { q: tensor([1, 1, 2], [1, 0]), k: tensor([1, 2, 2], [1, 0, 0, 1]), v: tensor([1, 2, 2], [1, 2, 3, 4]) },
    );
    expectValues(cpu.get("y"), [1.6604769, 2.660477], 1e-6);
    expectValues(gpu.get("y"), [1.6604769, 2.660477], 1e-6);
  });
});
