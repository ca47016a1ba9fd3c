import { describe, expect, it } from "vitest";
import { ATTENTION_CANDIDATES, TILING_CANDIDATES, tilingName, tilingRunsOn } from "../../compiler/codegen/tiling.ts";
import { getGpu } from "../../runtime/device.ts";
import { compileOk } from "../helpers/compile.ts";
import { compareWithReference } from "../helpers/gpu.ts";
import { attentionCases, candidateCases, matmulCases, REL_TOL, tableFor } from "../helpers/tiling-cases.ts";

// Every tiling of the CPU and portable classes the autotuner may choose, on awkward shapes, against the
// CPU reference; the GPU class's are in gpu-tilings.test.ts.

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

// The two defaults (without and with subgroups) on every case; the other candidates on the cases that exercise what they change (tile
// sizes, key blocks, where the probabilities pass): each attention pipeline takes seconds to build on lavapipe.
const attentionRuns = ATTENTION_CANDIDATES.flatMap((t, i) =>
  (i <= 1 ? attentionCases : candidateCases).map((c) => ({ ...c, tiling: t, label: `${tilingName(t)}: ${c.name}` })),
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
