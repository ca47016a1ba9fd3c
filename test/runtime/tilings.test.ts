import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import {
  ATTENTION_CANDIDATES,
  GPU_ATTENTION_CANDIDATES,
  GPU_TILING_CANDIDATES,
  TILING_CANDIDATES,
  tilingName,
  tilingRunsOn,
  type KernelTarget,
  type KernelTiling,
} from "../../compiler/codegen/tiling.ts";
import type { Graph } from "../../core/graph.ts";
import { getGpu } from "../../runtime/device.ts";
import { compileOk } from "../helpers/compile.ts";
import { compareWithReference } from "../helpers/gpu.ts";

// Every tiling the autotuner may choose, on awkward shapes, against the CPU reference (same tolerance
// as kernels.test.ts: 2e-5 of max(10, largest value)).
const REL_TOL = 2e-5;

/** Every tunable kernel of the graph compiled with `tiling` (matmul tilings for matmuls, attention tilings for attention). */
function tableFor(g: Graph, tiling: KernelTiling): Map<string, KernelTiling> {
  const keys = compileGraph(g, { fuse: true }).kernels.flatMap((k) => (k.tuning ? [k.tuning.key] : []));
  const forAttention = tiling.strategy === "flash" || tiling.strategy === "staged";
  return new Map(keys.filter((k) => k.startsWith("attention") === forAttention).map((k) => [k, tiling]));
}

const matmulCases: { name: string; src: string; inputs: Record<string, number[]> }[] = [
  {
    name: "LayerNorm folded past a linear, gelu epilogue, K = 37, N = 36, 2 x 33 rows",
    src: `input x: f32[2, 33, 37]\n  output y = gelu(linear(layernorm(x, "ln"), "fc", 36))`,
    inputs: { x: [2, 33, 37] },
  },
  {
    name: "a linear with residual, K = 19 (not a multiple of 8), N = 4",
    src: `input x: f32[3, 19]\n  output y = linear(x, "fc", 4) + 1`,
    inputs: { x: [3, 19] },
  },
  {
    name: "a wide linear, N = 388 (past one workgroup's columns), 9 rows",
    src: `input x: f32[9, 24]\n  output y = linear(x, "fc", 388)`,
    inputs: { x: [9, 24] },
  },
  {
    name: "a class token and position table in the epilogue, 2 x (1 + 7) rows, K = 70, N = 12",
    src: `input x: f32[2, 7, 70]\n  t = broadcast_to(param("cls", [1, 1, 12]), [2, 1, 12])\n  output y = concat([t, linear(x, "patch", 12)], 1) + param("pos", [8, 12])`,
    inputs: { x: [2, 7, 70] },
  },
];

interface Case {
  name: string;
  src: string;
  inputs: Record<string, number[]>;
  ints?: Record<string, number[]>;
}

const attentionCases: Case[] = [
  {
    name: "3 heads of 7 (no vec4), 13 tokens",
    src: `input x: f32[2, 13, 21]\n  output y = attention(x, x * 0.5, x + 1, 3)`,
    inputs: { x: [2, 13, 21] },
  },
  {
    name: "2 heads of 64, 75 tokens (two key blocks, the last query tile part-full)",
    src: `input x: f32[1, 75, 128]\n  output y = attention(x, x * 0.25, x + 1, 2)`,
    inputs: { x: [1, 75, 128] },
  },
  {
    name: "causal, 2 heads of 68, 70 tokens",
    src: `input x: f32[1, 70, 136]\n  output y = attention(x * 0.3, x * 0.2, x, 2, causal = true)`,
    inputs: { x: [1, 70, 136] },
  },
  {
    name: "segments of 5, 30 and 50 tokens",
    src: `input x: f32[1, 85, 64]\n  input s: i32[4]\n  output y = attention(x * 0.3, x * 0.2, x, 1, segments = s)`,
    inputs: { x: [1, 85, 64] },
    ints: { s: [0, 5, 35, 85] },
  },
  {
    name: "relative-position biases, 2 heads, 3 x 4 key grid",
    src: `input x: f32[2, 12, 8]\n  input rb: f32[2, 12, 6]\n  input cb: f32[2, 12, 8]\n  output y = attention(x, x * 0.5, x + 1, 2, row_bias = rb, col_bias = cb)`,
    inputs: { x: [2, 12, 8], rb: [2, 12, 6], cb: [2, 12, 8] },
  },
];

describe("every matmul tiling against the CPU reference", async () => {
  const ctx = await getGpu();
  const runnable = TILING_CANDIDATES.filter((t) => tilingRunsOn(t, ctx));
  it.each(runnable.flatMap((t) => matmulCases.map((c) => ({ ...c, tiling: t, label: `${tilingName(t)}: ${c.name}` }))))(
    "$label",
    async ({ src, inputs, tiling }) => {
      const g = compileOk(`model t {\n  ${src}\n}`).graph;
      const table = tableFor(g, tiling);
      expect(table.size).toBeGreaterThan(0);
      const r = await compareWithReference(g, inputs, {}, 7, { tilings: table });
      for (const [name, diff] of Object.entries(r.fused)) expect(diff, `fused ${name}`).toBeLessThan(REL_TOL);
    },
  );
});

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

// The two defaults (without and with subgroups) on every case; the other candidates on the cases that exercise what they change (tile
// sizes, key blocks, where the probabilities pass): each attention pipeline takes seconds to build on lavapipe.
const attentionRuns = ATTENTION_CANDIDATES.flatMap((t, i) =>
  attentionCases.filter((_, c) => i <= 1 || c < 3).map((c) => ({ ...c, tiling: t, label: `${tilingName(t)}: ${c.name}` })),
);

describe("every attention tiling against the CPU reference", () => {
  it.each(attentionRuns)("$label", async ({ src, inputs, tiling, ints }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const table = tableFor(g, tiling);
    expect(table.size).toBe(1);
    const r = await compareWithReference(g, inputs, {}, 7, { tilings: table, given: ints });
    for (const [name, diff] of Object.entries(r.fused)) expect(diff, `fused ${name}`).toBeLessThan(REL_TOL);
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
    attentionCases.slice(0, 3).map((c) => ({ ...c, tiling: t, label: `${tilingName(t)}: ${c.name}` })),
  );
  it.each(others)("$label", async ({ src, inputs, tiling, ints }) => {
    const g = compileOk(`model t {\n  ${src}\n}`).graph;
    const table = tableFor(g, tiling);
    expect(table.size).toBe(1);
    const r = await compareWithReference(g, inputs, {}, 7, { tilings: table, given: ints, target: gpu });
    for (const [name, diff] of Object.entries(r.fused)) expect(diff, `fused ${name}`).toBeLessThan(REL_TOL);
  });
});
