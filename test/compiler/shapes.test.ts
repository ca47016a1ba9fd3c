import { describe, expect, it } from "vitest";
import { GraphBuilder, ShapeError } from "../../compiler/ir/builder.ts";
import { dimFloorDiv, dimMul, dimsEqual, dimToString, evalDim, sym, type Dim } from "../../core/dims.ts";
import { printGraph } from "../../compiler/ir/printer.ts";

const B = sym("B");
const show = (shape: Dim[]): string[] => shape.map(dimToString);

describe("symbolic dims", () => {
  it("folds constants and compares products regardless of order", () => {
    expect(dimMul(3, 4)).toBe(12);
    expect(dimsEqual(dimMul(dimMul(B, 3), 224), dimMul(672, B))).toBe(true);
    expect(dimsEqual(dimMul(B, 3), dimMul(B, 4))).toBe(false);
    expect(evalDim(dimFloorDiv(sym("H"), 14), { H: 384 })).toBe(27);
  });
});

describe("shape inference", () => {
  const b = new GraphBuilder("t");
  const x = b.input("x", [B, 7, 12]);

  it("broadcasts elementwise ops numpy-style", () => {
    expect(show(b.node(b.binary("add", x, b.param("p", [12]))).shape)).toEqual(["B", "7", "12"]);
    expect(show(b.node(b.binary("mul", x, b.reduce("mean", x, -1))).shape)).toEqual(["B", "7", "12"]);
    expect(() => b.binary("add", x, b.param("q", [7]))).toThrow(ShapeError);
  });

  it("infers matmul_nt, reshape, permute, slice, concat and attention shapes", () => {
    const w = b.param("w", [5, 12]);
    expect(show(b.node(b.matmul(x, w)).shape)).toEqual(["B", "7", "5"]);
    const r = b.reshape(x, [B, 7, 3, 4]);
    expect(show(b.node(b.permute(r, [0, 2, 1, 3])).shape)).toEqual(["B", "3", "7", "4"]);
    expect(show(b.node(b.slice(x, 1, 2, 6)).shape)).toEqual(["B", "4", "12"]);
    expect(show(b.node(b.concat([x, x], 1)).shape)).toEqual(["B", "14", "12"]);
    expect(show(b.node(b.attention(x, x, x, 3, null)).shape)).toEqual(["B", "7", "12"]);
  });

  it("rejects bad views with a message naming the shapes", () => {
    expect(() => b.reshape(x, [B, 5, 12])).toThrow("reshape: cannot view [B, 7, 12] as [B, 5, 12] (element counts differ)");
    expect(() => b.permute(x, [0, 0, 1])).toThrow("is not a permutation");
    expect(() => b.slice(x, 1, 0, 9)).toThrow("end 9 is past the size 7");
    expect(() => b.attention(x, x, x, 5, null)).toThrow("width 12 is not divisible by 5 heads");
    expect(() => b.param("w", [4, 12])).toThrow("parameter 'w' used with shape [4, 12] but earlier with [5, 12]");
  });

  it("prints the IR one primitive per line", () => {
    const g = new GraphBuilder("p");
    const i = g.input("x", [B, 4]);
    g.output("y", g.unary("exp", i));
    expect(printGraph(g.graph)).toMatchInlineSnapshot(`
      "graph p (2 nodes)
        %0 = input "x" : f32[B, 4]
        %1 = exp(%0) : f32[B, 4]
        output y = %1"
    `);
  });
});
