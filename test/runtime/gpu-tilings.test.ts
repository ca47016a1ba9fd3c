import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { GPU_ATTENTION_CANDIDATES, GPU_TILING_CANDIDATES, tilingName, type KernelTarget } from "../../compiler/codegen/tiling.ts";
import { getGpu } from "../../runtime/device.ts";
import { compileOk } from "../helpers/compile.ts";
import { compareWithReference } from "../helpers/gpu.ts";
import { attentionCases, candidateCases, matmulCases, REL_TOL, tableFor, type Case } from "../helpers/tiling-cases.ts";

// The GPU target's kernels, run here on lavapipe for correctness: every tiled candidate on the cases
// above, and the GPU default on matmuls no tuning key covers (activations times activations, batched
// B, N not a multiple of 4), fused and unfused, with the kernel count of the fused plan.
describe("the GPU target's matmuls against the CPU reference", async () => {
  const ctx = await getGpu();
  const gpu: KernelTarget = { features: ctx.features, subgroupMinSize: ctx.subgroupMinSize, targetClass: "gpu" };
  const tiled = GPU_TILING_CANDIDATES.filter((t) => t.strategy === "tiled");
  it.each(tiled.flatMap((t) => matmulCases.map((c) => ({ ...c, tiling: t, label: `${tilingName(t)}: ${c.name}` }))))(
    "$label",
    async ({ src, inputs, tiling }) => {
      const g = compileOk(`model t {\n  ${src}\n}`).graph;
      const table = tableFor(g, tiling);
      expect(table.size).toBeGreaterThan(0);
      const plan = compileGraph(g, { fuse: true, tilings: table, target: gpu });
      expect(plan.kernels.filter((k) => k.kind === "matmul").every((k) => k.wgsl.includes("var<workgroup> aTile"))).toBe(true);
      const r = await compareWithReference(g, inputs, {}, 7, { tilings: table, target: gpu });
      for (const [name, diff] of Object.entries(r.fused)) expect(diff, `fused ${name}`).toBeLessThan(REL_TOL);
    },
  );
  const untuned: (Case & { kernels: number })[] = [
    {
      name: "batched activations: 2 x 67 x 29 times (2 x 45 x 29)^T, then + 1",
      src: `input x: f32[2, 67, 29]\n  input z: f32[2, 45, 29]\n  output y = matmul_nt(x, z) + 1`,
      inputs: { x: [2, 67, 29], z: [2, 45, 29] },
      kernels: 1,
    },
    {
      name: "a linear with N = 7 (weights not stored [K, N]), a LayerNorm on load, 70 rows",
      src: `input x: f32[70, 33]\n  output y = linear(layernorm(x, "ln"), "fc", 7)`,
      inputs: { x: [70, 33] },
      kernels: 1,
    },
  ];
  it.each(untuned)("default: $name", async ({ src, inputs, kernels }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const plan = compileGraph(g, { fuse: true, target: gpu });
    expect(plan.kernels.length).toBe(kernels);
    expect(plan.kernels.filter((k) => k.kind === "matmul").every((k) => k.wgsl.includes("var<workgroup> aTile"))).toBe(true);
    const r = await compareWithReference(g, inputs, {}, 7, { target: gpu });
    for (const [name, diff] of [...Object.entries(r.fused), ...Object.entries(r.unfused)]) expect(diff, name).toBeLessThan(REL_TOL);
  });
});

// The GPU attention kernel, run here with the GPU target: the default on every case and on a head too
// wide for its tile (which then takes fewer keys and queries), fused and unfused; the other candidates
// on the cases that change what they change (tile sizes against part-full tiles, key blocks, causal).
describe("the GPU target's attention against the CPU reference", async () => {
  const ctx = await getGpu();
  const gpu: KernelTarget = { features: ctx.features, subgroupMinSize: ctx.subgroupMinSize, targetClass: "gpu" };
  const wide: Case = {
    name: "one head of 200 (the tile shrinks to fit 16 KiB), 21 tokens",
    src: `input x: f32[1, 21, 200]\n  output y = attention(x * 0.1, x * 0.2, x, 1)`,
    inputs: { x: [1, 21, 200] },
  };
  it.each([...attentionCases, wide])("default: $name", async ({ src, inputs, ints }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const attention = compileGraph(g, { fuse: true, target: gpu }).kernels.filter((k) => k.kind === "attention");
    expect(attention.length).toBe(1);
    expect(attention[0].wgsl).toContain("var<workgroup> kv");
    expect(attention[0].wgsl).toContain("@workgroup_size(64)");
    expect(attention[0].wgsl).not.toContain("subgroup");
    const r = await compareWithReference(g, inputs, {}, 7, { given: ints, target: gpu });
    for (const [name, diff] of [...Object.entries(r.fused), ...Object.entries(r.unfused)]) expect(diff, name).toBeLessThan(REL_TOL);
  });
  const others = GPU_ATTENTION_CANDIDATES.slice(1).flatMap((t) =>
    candidateCases.map((c) => ({ ...c, tiling: t, label: `${tilingName(t)}: ${c.name}` })),
  );
  it.each(others)("$label", async ({ src, inputs, tiling, ints }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const table = tableFor(g, tiling);
    expect(table.size).toBe(1);
    const r = await compareWithReference(g, inputs, {}, 7, { tilings: table, given: ints, target: gpu });
    for (const [name, diff] of Object.entries(r.fused)) expect(diff, `fused ${name}`).toBeLessThan(REL_TOL);
  });
});
