import { ShapeError, normalizeAxis, type GraphBuilder } from "../ir/builder.ts";
import type { Dim } from "../../core/dims.ts";
import { UNARY_FNS, type ReduceFn } from "../../core/graph.ts";
import { describe, toPlain as toPlainValue, type Value } from "./values.ts";

export interface BuiltinContext {
  builder: GraphBuilder;
  hasWeight: (name: string) => boolean;
}

type Builtin = (ctx: BuiltinContext, positional: Value[], named: Map<string, Value>) => Value;

/** Positional-or-named argument access with type checks that name the function and argument. */
class Args {
  constructor(
    private readonly fn: string,
    private readonly names: string[],
    private readonly positional: Value[],
    private readonly named: Map<string, Value>,
  ) {
    if (positional.length > names.length)
      throw new ShapeError(`${fn} takes at most ${names.length} arguments (${names.join(", ")}), got ${positional.length}`);
    for (const k of named.keys())
      if (!names.includes(k)) throw new ShapeError(`${fn} has no argument '${k}' (it takes ${names.join(", ")})`);
  }
  get(name: string): Value | undefined {
    const i = this.names.indexOf(name);
    return i < this.positional.length ? this.positional[i] : this.named.get(name);
  }
  private need(name: string): Value {
    const v = this.get(name);
    if (v === undefined) throw new ShapeError(`${this.fn} needs argument '${name}'`);
    return v;
  }
  tensor(name: string): number {
    const v = this.need(name);
    if (v.t !== "tensor") throw new ShapeError(`${this.fn}: '${name}' must be a tensor, got ${describe(v)}`);
    return v.id;
  }
  tensorOrScalar(name: string, builder: GraphBuilder): number {
    const v = this.need(name);
    if (v.t === "float" || (v.t === "int" && typeof v.v === "number")) return builder.constant(v.v as number);
    return this.tensor(name);
  }
  int(name: string, fallback?: number): Dim {
    const v = this.get(name);
    if (v === undefined && fallback !== undefined) return fallback;
    const w = v ?? this.need(name);
    if (w.t !== "int") throw new ShapeError(`${this.fn}: '${name}' must be an int, got ${describe(w)}`);
    return w.v;
  }
  bool(name: string, fallback: boolean): boolean {
    const v = this.get(name);
    if (v === undefined) return fallback;
    if (v.t !== "bool") throw new ShapeError(`${this.fn}: '${name}' must be a bool, got ${describe(v)}`);
    return v.v;
  }
  fixedInt(name: string, fallback?: number): number {
    const d = this.int(name, fallback);
    if (typeof d !== "number") throw new ShapeError(`${this.fn}: '${name}' must be a fixed int, not a symbolic dimension`);
    return d;
  }
  float(name: string): number | null {
    const v = this.get(name);
    if (v === undefined || v.t === "none") return null;
    if (v.t === "float") return v.v;
    if (v.t === "int" && typeof v.v === "number") return v.v;
    throw new ShapeError(`${this.fn}: '${name}' must be a number, got ${describe(v)}`);
  }
  string(name: string): string {
    const v = this.need(name);
    if (v.t !== "string") throw new ShapeError(`${this.fn}: '${name}' must be a string, got ${describe(v)}`);
    return v.v;
  }
  dims(name: string): Dim[] {
    const v = this.need(name);
    if (v.t !== "list") throw new ShapeError(`${this.fn}: '${name}' must be a list of ints, got ${describe(v)}`);
    return v.items.map((item, i) => {
      if (item.t !== "int") throw new ShapeError(`${this.fn}: '${name}'[${i}] must be an int, got ${describe(item)}`);
      return item.v;
    });
  }
  tensors(name: string): number[] {
    const v = this.need(name);
    if (v.t !== "list") throw new ShapeError(`${this.fn}: '${name}' must be a list of tensors, got ${describe(v)}`);
    return v.items.map((item, i) => {
      if (item.t !== "tensor") throw new ShapeError(`${this.fn}: '${name}'[${i}] must be a tensor, got ${describe(item)}`);
      return item.id;
    });
  }
}

const tensor = (id: number): Value => ({ t: "tensor", id });

function def(names: string[], body: (a: Args, ctx: BuiltinContext) => Value): (fn: string) => Builtin {
  return (fn) => (ctx, positional, named) => body(new Args(fn, names, positional, named), ctx);
}

function reduction(fn: ReduceFn) {
  return def(["x", "axis"], (a, { builder }) => tensor(builder.reduce(fn, a.tensor("x"), a.fixedInt("axis", -1))));
}

const table: Record<string, (fn: string) => Builtin> = {
  param: def(["name", "shape"], (a, { builder }) => tensor(builder.param(a.string("name"), a.dims("shape")))),
  has_weight: def(["name"], (a, { hasWeight }) => ({ t: "bool", v: hasWeight(a.string("name")) })),
  dim: def(["x", "axis"], (a, { builder }) => {
    const shape = builder.node(a.tensor("x")).shape;
    return { t: "int", v: shape[normalizeAxis(a.fixedInt("axis"), shape.length)] };
  }),
  fail: def(["message"], (a) => {
    throw new ShapeError(a.string("message"));
  }),
  floor: def(["x"], (a) => ({ t: "int", v: Math.floor(a.float("x") ?? NaN) })),
  ceil: def(["x"], (a) => ({ t: "int", v: Math.ceil(a.float("x") ?? NaN) })),
  // The side of a square count (Gemma 3's 256 tokens per image: 16 x 16); an error when it is not one.
  isqrt: def(["n"], (a) => {
    const n = a.float("n") ?? NaN;
    const r = Math.round(Math.sqrt(n));
    if (!Number.isInteger(n) || r * r !== n) throw new ShapeError(`isqrt: ${n} is not the square of an int`);
    return { t: "int", v: r };
  }),
  // A condition as a count (1 or 0), e.g. one more token when the class token is kept.
  count_if: def(["condition"], (a) => {
    const c = a.get("condition");
    if (c?.t !== "bool") throw new ShapeError(`count_if: 'condition' must be a bool, got ${c ? describe(c) : "nothing"}`);
    return { t: "int", v: c.v ? 1 : 0 };
  }),
  contains: def(["list", "value"], (a) => {
    const list = a.get("list");
    const value = a.get("value");
    if (list?.t !== "list") throw new ShapeError(`contains: 'list' must be a list, got ${list ? describe(list) : "nothing"}`);
    const same = (x: Value): boolean => JSON.stringify(toPlainValue(x)) === JSON.stringify(value ? toPlainValue(value) : null);
    return { t: "bool", v: list.items.some(same) };
  }),
  rank: def(["x"], (a, { builder }) => ({ t: "int", v: builder.node(a.tensor("x")).shape.length })),
  // A constant vector from a list of numbers (per-channel means and deviations normalised in the graph).
  vector: def(["values"], (a, { builder }) => {
    const list = a.get("values");
    if (list?.t !== "list" || list.items.length === 0)
      throw new ShapeError(`vector: 'values' must be a non-empty list of numbers, got ${list ? describe(list) : "nothing"}`);
    const ids = list.items.map((v, i) => {
      if (v.t !== "float" && !(v.t === "int" && typeof v.v === "number"))
        throw new ShapeError(`vector: values[${i}] must be a number, got ${describe(v)}`);
      return builder.reshape(builder.constant(v.v as number), [1]);
    });
    return tensor(builder.concat(ids, 0));
  }),
  sum: reduction("sum"),
  mean: reduction("mean"),
  max: reduction("max"),
  maximum: def(["a", "b"], (a, { builder }) =>
    tensor(builder.binary("max", a.tensorOrScalar("a", builder), a.tensorOrScalar("b", builder))),
  ),
  minimum: def(["a", "b"], (a, { builder }) =>
    tensor(builder.binary("min", a.tensorOrScalar("a", builder), a.tensorOrScalar("b", builder))),
  ),
  matmul_nt: def(["a", "b"], (a, { builder }) => tensor(builder.matmul(a.tensor("a"), a.tensor("b")))),
  reshape: def(["x", "shape"], (a, { builder }) => tensor(builder.reshape(a.tensor("x"), a.dims("shape")))),
  permute: def(["x", "perm"], (a, { builder }) => {
    const perm = a.dims("perm");
    if (perm.some((p) => typeof p !== "number")) throw new ShapeError("permute: the permutation must be fixed ints");
    return tensor(builder.permute(a.tensor("x"), perm as number[]));
  }),
  slice: def(["x", "axis", "start", "end"], (a, { builder }) =>
    tensor(builder.slice(a.tensor("x"), a.fixedInt("axis"), a.int("start"), a.int("end"))),
  ),
  select: def(["x", "axis", "index"], (a, { builder }) => {
    const x = a.tensor("x");
    const shape = builder.node(x).shape;
    const axis = normalizeAxis(a.fixedInt("axis"), shape.length);
    const index = a.fixedInt("index");
    const s = builder.slice(x, axis, index, index + 1);
    return tensor(
      builder.reshape(
        s,
        shape.filter((_, i) => i !== axis),
      ),
    );
  }),
  concat: def(["xs", "axis"], (a, { builder }) => tensor(builder.concat(a.tensors("xs"), a.fixedInt("axis")))),
  pad: def(["x", "axis", "before", "after", "value"], (a, { builder }) =>
    tensor(builder.pad(a.tensor("x"), a.fixedInt("axis"), a.fixedInt("before"), a.fixedInt("after"), a.float("value") ?? 0)),
  ),
  im2col: def(["x", "kernel", "stride", "padding"], (a, { builder }) => {
    const pair = (name: string, fallback: number): [number, number] => {
      const v = a.get(name);
      if (v === undefined) return [fallback, fallback];
      if (v.t === "int" && typeof v.v === "number") return [v.v, v.v];
      const d = a.dims(name);
      if (d.length !== 2 || d.some((x) => typeof x !== "number"))
        throw new ShapeError(`im2col: '${name}' must be an int or a list of 2 ints`);
      return [d[0] as number, d[1] as number];
    };
    return tensor(builder.im2col(a.tensor("x"), pair("kernel", 1), pair("stride", 1), pair("padding", 0)));
  }),
  resize2d: def(["x", "height", "width", "mode", "antialias"], (a, { builder }) => {
    const mode = a.get("mode") === undefined ? "bicubic" : a.string("mode");
    if (mode !== "bicubic" && mode !== "bilinear") throw new ShapeError(`resize2d: mode must be "bicubic" or "bilinear", got "${mode}"`);
    return tensor(builder.resize2d(a.tensor("x"), a.int("height"), a.int("width"), mode, a.bool("antialias", false)));
  }),
  gather: def(["x", "axis", "index"], (a, { builder }) => tensor(builder.gather(a.tensor("x"), a.fixedInt("axis"), a.tensor("index")))),
  broadcast_to: def(["x", "shape"], (a, { builder }) => tensor(builder.broadcastTo(a.tensor("x"), a.dims("shape")))),
  attention: def(["q", "k", "v", "heads", "scale", "segments", "causal", "row_bias", "col_bias"], (a, { builder }) => {
    const relative: [number, number] | null = a.get("row_bias") || a.get("col_bias") ? [a.tensor("row_bias"), a.tensor("col_bias")] : null;
    return tensor(
      builder.attention(
        a.tensor("q"),
        a.tensor("k"),
        a.tensor("v"),
        a.fixedInt("heads"),
        a.float("scale"),
        a.get("segments") ? a.tensor("segments") : null,
        a.bool("causal", false),
        relative,
      ),
    );
  }),
};
for (const fn of UNARY_FNS) table[fn] = def(["x"], (a, { builder }) => tensor(builder.unary(fn, a.tensor("x"))));

/** The primitive operations graph files and the prelude are built from. */
export const BUILTINS: ReadonlyMap<string, Builtin> = new Map(Object.entries(table).map(([name, make]) => [name, make(name)]));
