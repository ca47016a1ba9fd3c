import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { kernelCost } from "../../core/cost.ts";
import { compileOk } from "../helpers/compile.ts";

describe("kernelCost's bytes follow the storage type", () => {
  it("floats are 4 bytes in f32 and 2 in f16; integer tensors 4 in both", () => {
    const g = compileOk(
      `model t {\n  input x: f32[1, 10, 8]\n  input s: i32[3]\n  output y = attention(x, x, x, 2, segments = s)\n}`,
    ).graph;
    const [f32, f16] = (["f32", "f16"] as const).map((storage) => {
      const plan = compileGraph(g, { fuse: true, storage });
      expect(plan.kernels.length).toBe(1);
      return kernelCost(plan.graph, plan.kernels[0], {}, storage);
    });
    // x read once (80 floats), s (3 integers), y written (80 floats).
    expect(f32).toEqual({ flops: 4 * 80 * 10, bytes: 160 * 4 + 3 * 4 });
    expect(f16).toEqual({ flops: 4 * 80 * 10, bytes: 160 * 2 + 3 * 4 });
  });
});
