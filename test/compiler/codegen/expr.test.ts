import { describe, expect, it } from "vitest";
import * as E from "../../../compiler/codegen/expr.ts";
import { KernelWriter } from "../../../compiler/codegen/writer.ts";
import type { KernelGroup } from "../../../compiler/fusion/groups.ts";
import type { Graph } from "../../../core/graph.ts";

const u = E.u32;
const x = E.named("x", "u32");
const y = E.named("y", "u32");

describe("index arithmetic is simplified as it is built", () => {
  it("folds constants and drops identities", () => {
    expect(E.add(u(3), u(4)).text).toBe("7u");
    expect(E.mul(u(6), u(7)).text).toBe("42u");
    expect(E.add(x, u(0)).text).toBe("x");
    expect(E.add(u(0), x).text).toBe("x");
    expect(E.mul(x, u(1)).text).toBe("x");
    expect(E.mul(u(0), x).text).toBe("0u");
    expect(E.div(x, u(1)).text).toBe("x");
    expect(E.mod(x, u(1)).text).toBe("0u");
    expect(E.div(u(13), u(4)).text).toBe("3u");
    expect(E.mod(u(13), u(4)).text).toBe("1u");
    expect(E.min(u(3), u(9)).text).toBe("3u");
    expect(E.sub(x, x).text).toBe("0u");
  });

  it("gathers constant offsets, and multiplies constant factors once", () => {
    expect(E.add(E.add(x, u(1)), u(2)).text).toBe("x + 3u");
    expect(E.add(E.add(x, u(3)), E.add(y, u(1))).text).toBe("x + y + 4u");
    expect(E.sub(E.add(x, u(3)), u(3)).text).toBe("x");
    expect(E.sub(E.add(x, u(1)), u(3)).text).toBe("x - 2u");
    expect(E.sub(E.add(x, u(3)), E.add(y, u(1))).text).toBe("x - y + 2u");
    expect(E.mul(E.mul(x, u(4)), u(8)).text).toBe("x * 32u");
  });

  it("divides a sum term by term where the divisor divides a coefficient, looking through a let", () => {
    const m = E.named("m", "u32");
    const k = E.named("k", "u32");
    const linear = E.named("l", "u32", E.add(E.mul(m, u(768)), k));
    expect(E.mod(linear, u(16)).text).toBe("k % 16u");
    expect(E.div(linear, u(16)).text).toBe("m * 48u + k / 16u");
    expect(E.div(E.div(k, u(16)), u(16)).text).toBe("k / 256u");
    expect(E.mod(E.mod(k, u(64)), u(16)).text).toBe("k % 16u");
    // Horner form multiplied out: ((m * 16 + k) * 14 + x) * 16 + y.
    const horner = E.add(E.mul(E.add(E.mul(E.add(E.mul(m, u(16)), k), u(14)), x), u(16)), y);
    expect(E.mod(horner, u(224)).text).toBe("(x * 16u + y) % 224u");
    expect(E.div(horner, u(224)).text).toBe("m * 16u + k + (x * 16u + y) / 224u");
    // Nothing to split: the name stays.
    expect(E.mod(E.named("n", "u32", E.add(m, k)), u(16)).text).toBe("n % 16u");
    // Signed division truncates towards zero: left as written.
    expect(E.div(E.mul(E.named("s", "i32"), E.i32(4)), E.i32(2)).text).toBe("s * 4i / 2i");
  });

  it("wraps u32 constants as WGSL does", () => {
    expect(E.sub(u(1), u(2)).text).toBe("4294967295u");
    expect(E.mul(u(65536), u(65536)).text).toBe("0u");
  });

  it("leaves f32 math as written: reassociation would change rounding", () => {
    const v = E.named("v", "f32");
    expect(E.add(E.add(v, E.f32(1)), E.f32(2)).text).toBe("v + 1.0 + 2.0");
    expect(E.mul(v, E.f32(1)).text).toBe("v * 1.0");
  });

  it("refuses to mix types, except a scalar with a vector", () => {
    expect(() => E.add(x, E.f32(1))).toThrow(/u32 x meets f32 1.0/);
    expect(E.mul(E.named("q", "vec4f"), E.f32(2)).type).toBe("vec4f");
  });
});

describe("the WGSL printer", () => {
  it("writes parentheses only where precedence needs them", () => {
    expect(E.mul(E.add(x, y), u(4)).text).toBe("(x + y) * 4u");
    expect(E.sub(x, E.sub(y, E.named("z", "u32"))).text).toBe("x - (y - z)");
    expect(E.div(E.mul(x, y), u(3)).text).toBe("x * y / 3u");
  });

  it("nests what WGSL's grammar does not chain: comparisons, mixed logic", () => {
    expect(E.and(E.lt(x, u(3)), E.ge(y, u(1)), E.lt(x, y)).text).toBe("x < 3u && y >= 1u && x < y");
    const either = E.compare("==", E.lt(x, y), E.lt(y, x));
    expect(either.text).toBe("(x < y) == (y < x)");
  });

  it("types conversions, splats and lanes", () => {
    expect(E.convert("f32", x).text).toBe("f32(x)");
    expect(E.convert("f32", u(3)).text).toBe("3.0");
    expect(E.convert("vec4f", E.f32(0)).text).toBe("vec4<f32>(0.0)");
    expect(E.convert("u32", x)).toBe(x);
    expect(E.lane(E.named("acc", "vec4f"), u(2)).text).toBe("acc[2u]");
    expect(E.f32(-2).text).toBe("(-2.0)");
    expect(E.neg(E.add(E.named("a", "f32"), E.f32(1))).text).toBe("-(a + 1.0)");
  });
});

describe("the kernel writer shares what it has bound (CSE)", () => {
  const g: Graph = { name: "empty", nodes: [], inputs: [], outputs: [] };
  const group: KernelGroup = {
    kind: "pointwise",
    root: 0,
    members: [],
    core: null,
    reduces: [],
    rowStats: [],
    axis: 0,
    inlined: [],
    prefixRows: 0,
    fusion: { apart: "", joined: [] },
  };

  it("binds an expression once per scope, and again in a new one", () => {
    const w = new KernelWriter(g, group);
    const read = (e: E.Expr): void => w.line(`out[0] = f32(${e});`);
    const a = w.let(E.mul(x, u(3)));
    expect(w.let(E.mul(x, u(3)))).toBe(a);
    read(a);
    w.block("if (x > 0u) {", () => {
      expect(w.let(E.mul(x, u(3)))).toBe(a);
      read(w.let(E.mul(y, u(3))));
    });
    read(w.let(E.mul(y, u(3))));
    const lets = w
      .takeBody()
      .split("\n")
      .filter((l) => l.includes("let "));
    expect(lets.map((l) => l.trim())).toEqual(["let v0 = x * 3u;", "let v1 = y * 3u;", "let v2 = y * 3u;"]);
  });

  it("drops the lets nothing reads, and then those only they read", () => {
    const w = new KernelWriter(g, group);
    const a = w.let(E.mul(x, u(3)), "a");
    w.let(E.add(a, u(1)), "b");
    const c = w.let(E.mul(y, u(5)), "c");
    w.line(`out[0] = f32(${c});`);
    expect(
      w
        .takeBody()
        .trim()
        .split("\n")
        .map((l) => l.trim()),
    ).toEqual(["let c2 = y * 5u;", "out[0] = f32(c2);"]);
  });

  it("never shares a read of something that changes, nor binds a name or a constant again", () => {
    const w = new KernelWriter(g, group);
    const cell = E.element("tile", x, "f32", true);
    const first = w.let(cell);
    const second = w.let(cell);
    expect(second).not.toBe(first);
    w.line(`out[0] = ${E.add(first, second)};`);
    expect(w.let(x)).toBe(x);
    expect(w.let(u(5)).text).toBe("5u");
    expect(w.takeBody().split("\n")).toHaveLength(3);
  });
});
