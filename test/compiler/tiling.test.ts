import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { candidatesFor } from "../../compiler/kernels/index.ts";
import {
  DEFAULT_ATTENTION,
  DEFAULT_TILING,
  SHUFFLE_ATTENTION,
  SHUFFLE_TILING,
  tilingName,
  type KernelTarget,
} from "../../compiler/codegen/tiling.ts";
import { compileOk } from "../helpers/compile.ts";

const graph = compileOk(
  `model t {\n  input x: f32[1, 21, 24]\n  h = x + attention(linear(x, "q", 24), linear(x, "k", 24), x, 2)\n  output y = linear(layernorm(h, "ln"), "fc", 40)\n}`,
).graph;

/** The tilings of the plan's tunable kernels, matmuls and attention apart. */
function tilings(target?: KernelTarget): { matmul: string[]; attention: string[] } {
  const tuned = compileGraph(graph, { fuse: true, target }).kernels.flatMap((k) => (k.tuning ? [k.tuning] : []));
  const of = (attention: boolean): string[] => [
    ...new Set(tuned.filter((t) => t.key.startsWith("attention") === attention).map((t) => t.tiling)),
  ];
  return { matmul: of(false), attention: of(true) };
}

describe("default tilings per target", () => {
  it("share values by subgroup shuffles only where subgroups have at least 8 lanes", () => {
    expect(tilings()).toEqual({ matmul: [tilingName(DEFAULT_TILING)], attention: [tilingName(DEFAULT_ATTENTION)] });
    expect(tilings({ features: ["subgroups"], subgroupMinSize: 8 })).toEqual({
      matmul: [tilingName(SHUFFLE_TILING)],
      attention: [tilingName(SHUFFLE_ATTENTION)],
    });
    expect(tilings({ features: ["subgroups"], subgroupMinSize: 4 })).toEqual({
      matmul: [tilingName(DEFAULT_TILING)],
      attention: [tilingName(DEFAULT_ATTENTION)],
    });
    expect(tilings({ features: [], subgroupMinSize: 32 })).toEqual({
      matmul: [tilingName(DEFAULT_TILING)],
      attention: [tilingName(DEFAULT_ATTENTION)],
    });
  });

  it("puts the target's default first among the autotuner's candidates, once, and leaves out what cannot run", () => {
    const wide = { features: ["subgroups"], subgroupMinSize: 32 };
    const none = { features: [], subgroupMinSize: 0 };
    for (const key of ["matmul 1x21x24x40", "attention 1x21x21x24/2"]) {
      const withShuffles = candidatesFor(key, wide).map(tilingName);
      const without = candidatesFor(key, none).map(tilingName);
      expect(withShuffles[0]).toContain("shuffle");
      expect(new Set(withShuffles).size).toBe(withShuffles.length);
      expect(without.some((n) => n.includes("shuffle"))).toBe(false);
      expect(without[0]).toBe(key.startsWith("matmul") ? tilingName(DEFAULT_TILING) : tilingName(DEFAULT_ATTENTION));
    }
  });
});
