import { describe, expect, it } from "vitest";
import { fromHalfBits, toHalf, toHalfBits } from "../../runtime/half.ts";

describe("f16 conversion", () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [0, 0],
  ])("%s -> %s (round to nearest even, subnormals, overflow to inf)", (v, bits) => {
    expect(toHalfBits(v)).toBe(bits);
  });

  it("round-trips every finite half exactly", () => {
    for (let h = 0; h < 0x7c00; h++) {
      expect(toHalfBits(fromHalfBits(h))).toBe(h);
      expect(toHalfBits(fromHalfBits(h | 0x8000))).toBe(h | 0x8000);
    }
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });

  it("pads odd lengths to an even count", () => {
    expect(toHalf(new Float32Array([1, 2, 3]))).toHaveLength(4);
  });
});
