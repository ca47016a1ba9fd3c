import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileProgram } from "../../compiler/compile.ts";
import { DEFAULT_TILING, TILING_CANDIDATES, tilingName, type TilingTable } from "../../compiler/codegen/tiling.ts";
import { candidatesFor } from "../../compiler/kernels/index.ts";
import { getGpu } from "../../runtime/device.ts";
import { randomTensor, randomWeights, rng } from "../../runtime/weights/random.ts";
import { autotune } from "../../tune/autotune.ts";
import { loadTilings, saveTilings } from "../../tune/cache.ts";
import { compileOk } from "../helpers/compile.ts";
import { attentionCases, matmulCases } from "../helpers/tiling-cases.ts";

const scratch = (): string => join(mkdtempSync(join(tmpdir(), "tesserae-tune-")), "tuning.json");

describe("tuning cache", () => {
  it("keeps one table per adapter and merges new choices into it", () => {
    const path = scratch();
    expect(loadTilings("gpu a", path).table.size).toBe(0);
    saveTilings("gpu a", { "matmul 1x2x3x4": { tiling: TILING_CANDIDATES[2], measured: {}, graph: "g", date: "d" } }, path);
    saveTilings("gpu b", { "matmul 1x2x3x4": { tiling: DEFAULT_TILING, measured: {}, graph: "g", date: "d" } }, path);
    saveTilings("gpu a", { "matmul 5x6x7x8": { tiling: DEFAULT_TILING, measured: {}, graph: "g", date: "d" } }, path);
    const a = loadTilings("gpu a", path).table;
    expect([...a.keys()].sort()).toEqual(["matmul 1x2x3x4", "matmul 5x6x7x8"]);
    expect(a.get("matmul 1x2x3x4")).toEqual(TILING_CANDIDATES[2]);
    expect(loadTilings("gpu b", path).table.get("matmul 1x2x3x4")).toEqual(DEFAULT_TILING);
  });

  it("leaves out tilings that are not current candidates and names a corrupt file", () => {
    const path = scratch();
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        adapters: {
          g: {
            k: {
              tiling: { strategy: "blocked", threads: 3, tm: 1, tn: 1, epilogue: "element", aLoads: "each" },
              measured: {},
              graph: "",
              date: "",
            },
          },
        },
      }),
    );
    expect(loadTilings("g", path).table.size).toBe(0);
    writeFileSync(path, "{ not json");
    expect(() => loadTilings("g", path)).toThrow(`tuning cache ${path} is not valid JSON`);
  });

  it("leaves out, for a target, choices measured without some of its current candidates", () => {
    const path = scratch();
    const target = { features: ["subgroups"], subgroupMinSize: 8 };
    const key = "matmul 1x9x8x12";
    const all = Object.fromEntries(candidatesFor(key, target).map((t) => [tilingName(t), 1]));
    const { [tilingName(candidatesFor(key, target)[0])]: _newest, ...withoutOne } = all;
    saveTilings("g", { [key]: { tiling: DEFAULT_TILING, measured: withoutOne, graph: "g", date: "d" } }, path);
    expect(loadTilings("g", path).table.get(key)).toEqual(DEFAULT_TILING);
    expect(loadTilings("g", path, target).table.has(key)).toBe(false);
    saveTilings("g", { [key]: { tiling: DEFAULT_TILING, measured: all, graph: "g", date: "d" } }, path);
    expect(loadTilings("g", path, target).table.get(key)).toEqual(DEFAULT_TILING);
    // Without subgroups the shuffled candidates are not this target's, so the first entry was complete.
    saveTilings("g", { [key]: { tiling: DEFAULT_TILING, measured: withoutOne, graph: "g", date: "d" } }, path);
    expect(loadTilings("g", path, { features: [], subgroupMinSize: 0 }).table.get(key)).toEqual(DEFAULT_TILING);
  });
});

describe("autotune", () => {
  it("measures every candidate of every shape of a graph, keeps the fastest, and reuses the cache", async () => {
    const path = scratch();
    process.env.TESSERAE_TUNING = path;
    try {
      // Three of tilings.test.ts's cases (test/helpers/tiling-cases.ts) side by side: their kernels' WGSL is the
      // same in one graph, so on a new machine every candidate's pipeline comes from the Mesa cache that file filled.
      const program = compileOk(
        [
          "model t {",
          "  input x: f32[2, 13, 21]",
          "  input w: f32[3, 19]",
          "  input v: f32[9, 24]",
          "  output y = attention(x, x * 0.5, x + 1, 3)",
          '  output z = linear(w, "fc", 4) + 1',
          '  output u = linear(v, "wide", 388)',
          "}",
        ].join("\n"),
      );
      const kernelsOf = (src: string): string[] => compileProgram(compileOk(src), { fuse: true }).kernels.map((k) => k.wgsl);
      const cases = [attentionCases[0], matmulCases[1], matmulCases[2]].flatMap((c) => kernelsOf(`model t {\n  ${c.src}\n}`));
      expect(new Set(compileProgram(program, { fuse: true }).kernels.map((k) => k.wgsl))).toEqual(new Set(cases));
      const ctx = await getGpu();
      const options = {
        compile: (t: TilingTable) => compileProgram(program, { fuse: true, tilings: t }),
        weights: randomWeights(program.graph, 1),
        inputs: new Map([
          ["x", randomTensor([2, 13, 21], rng(2))],
          ["w", randomTensor([3, 19], rng(3))],
          ["v", randomTensor([9, 24], rng(4))],
        ]),
        graph: "t",
        runs: 1,
      };
      const first = await autotune(ctx, options);
      const keys = Object.keys(first.tuned);
      expect(keys.some((k) => k.startsWith("attention"))).toBe(true);
      expect(keys.filter((k) => k.startsWith("matmul")).length).toBeGreaterThanOrEqual(2);
      for (const [key, choice] of Object.entries(first.tuned)) {
        const names = candidatesFor(key, ctx).map(tilingName);
        expect(Object.keys(choice.measured).sort()).toEqual([...names].sort());
        // The fastest, or the default (first candidate) when nothing beats it by 10%.
        const [fastest, fastestMs] = Object.entries(choice.measured).sort((a, b) => a[1] - b[1])[0];
        const defaultName = names[0];
        const expected = fastestMs > 0.9 * choice.measured[defaultName] ? defaultName : fastest;
        expect(tilingName(choice.tiling)).toBe(expected);
      }
      const cache = JSON.parse(readFileSync(path, "utf8")) as { adapters: Record<string, Record<string, unknown>> };
      expect(Object.keys(cache.adapters[ctx.adapterName]).sort()).toEqual([...keys].sort());
      const again = await autotune(ctx, options);
      expect(again.tuned).toEqual({});
      expect(again.cached.sort()).toEqual([...keys].sort());
      // The plan compiled with the table uses the chosen tilings.
      const plan = compileProgram(program, { fuse: true, tilings: again.table });
      for (const k of plan.kernels) if (k.tuning) expect(k.tuning.tiling).toBe(tilingName(first.tuned[k.tuning.key].tiling));
    } finally {
      delete process.env.TESSERAE_TUNING;
    }
  });
});
