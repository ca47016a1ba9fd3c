import { dimToString, dimsEqual, type Dim } from "../../core/dims.ts";
import type { BinaryFn, Graph, Node, UnaryFn } from "../../core/graph.ts";
import type { KernelGroup } from "../fusion/groups.ts";
import type { StorageType } from "../../core/plan.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";

/** Lanes of a value: an f32, or a vec4<f32> of four neighbours along the last axis. */
type Width = 1 | 4;

const UNARY_WGSL: Record<UnaryFn, (x: Expr) => Expr> = {
  neg: E.neg,
  exp: (x) => E.apply("exp", x),
  log: (x) => E.apply("log", x),
  sqrt: (x) => E.apply("sqrt", x),
  rsqrt: (x) => E.apply("inverseSqrt", x),
  // Clamped: tanh saturates long before 15 in f32, and some drivers return NaN for huge arguments.
  tanh: (x) => E.apply("tanh", E.call("clamp", [x, E.f32(-15), E.f32(15)], x.type)),
  erf: (x) => E.apply("erf_f32", x),
  sigmoid: (x) => E.div(E.f32(1), E.add(E.f32(1), E.apply("exp", E.neg(x)))),
  recip: (x) => E.div(E.f32(1), x),
  abs: (x) => E.apply("abs", x),
  relu: (x) => E.max(x, E.f32(0)),
};

/** Unary ops whose WGSL form above is valid for vec4<f32> as well. */
const VEC4_UNARY: ReadonlySet<UnaryFn> = new Set(["neg", "exp", "log", "sqrt", "rsqrt", "sigmoid", "recip", "abs"]);

const BINARY_WGSL: Record<BinaryFn, (a: Expr, b: Expr) => Expr> = {
  add: E.add,
  sub: E.sub,
  mul: E.mul,
  div: E.div,
  max: E.max,
  min: E.min,
  pow: (a, b) => E.call("pow", [a, b], a.type),
};

// erfc from Numerical Recipes (Chebyshev fit, fractional error < 1.2e-7); WGSL has no erf.
const ERF_WGSL = `fn erf_f32(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}`;

/** The lowest finite f32, as WGSL: where a running maximum starts, and what masked-out scores become. */
export const F32_LOWEST: Expr = E.f32(-3.402823e38);

export interface Binding {
  node: number;
  name: string;
  vec4: boolean;
}

/**
 * Builds one kernel's WGSL: bindings for the buffers it reads, uniform slots for every symbolic
 * dimension it uses, and an expression emitter that computes any member node at given coordinates,
 * folding views into index arithmetic and sharing repeated subexpressions (per scope).
 */
export class KernelWriter {
  readonly bindings: Binding[] = [];
  readonly uniforms: Dim[] = [];
  private readonly members: Set<number>;
  /** Values computed outside the emitter: a matmul accumulator, a row statistic. */
  readonly overrides = new Map<number, Expr>();
  /** Statistics of one row among several a thread handles, keyed by `statKey(node, coords)`. */
  readonly statOverrides = new Map<string, Expr>();
  /**
   * Statistics held in a private array, one per row of a range that starts at `first`: read at any row
   * computed at run time (the rows of a normalisation seen through a reshape of the matmul's A).
   */
  readonly statTables = new Map<number, { array: string; first: Expr; axis: number }>();
  /** WGSL extensions the kernel uses (besides f16, which follows the storage type). */
  readonly enables = new Set<string>();
  private lines: string[] = [];
  /** Per scope: node values by `statKey`, and `let`s by their expression's text (CSE). */
  private memo = new Map<string, Expr>();
  private counter = 0;
  private indent = 1;
  usesErf = false;
  usesAaCubic = false;

  /** Whether a store checked a value against f16's range (the kernel then binds the `overflow` flag). */
  checksRange = false;

  /**
   * `f16`: buffers hold half floats, converted to f32 on load and back on store; all math stays f32.
   * With `rangeCheck`, a stored value beyond f16's range (±65504) sets the run's overflow flag instead of
   * becoming an infinity unnoticed.
   */
  constructor(
    readonly graph: Graph,
    readonly group: KernelGroup,
    readonly storage: StorageType = "f32",
    readonly rangeCheck = false,
  ) {
    this.members = new Set(group.members);
  }

  /** A store into the output buffer: `out[offset] = value`, converted to the storage type. */
  store(offset: Expr, value: Expr): void {
    if (this.storage !== "f16") {
      this.line(`out[${offset}] = ${value};`);
      return;
    }
    if (!this.rangeCheck) {
      this.line(`out[${offset}] = f16(${value});`);
      return;
    }
    this.checksRange = true;
    const v = this.let(value, "stored");
    this.line(`if (abs(${v}) > ${F16_MAX}) { atomicOr(&overflow, 1u); }`);
    this.line(`out[${offset}] = f16(${v});`);
  }

  private load(buffer: string, index: Expr, vec4: boolean): Expr {
    const type = vec4 ? "vec4f" : "f32";
    if (this.storage === "f32") return E.element(buffer, index, type);
    // f16 storage: the element is converted where it is read.
    return E.convert(type, E.element(buffer, index, vec4 ? "vec4h" : "f16"));
  }

  node(id: number): Node {
    return this.graph.nodes[id];
  }

  fresh(prefix = "v"): string {
    return `${prefix}${this.counter++}`;
  }

  line(text: string): void {
    this.lines.push("  ".repeat(this.indent) + text);
  }

  /**
   * A value bound once: a literal or a name stays as it is, and an expression already bound in this
   * scope (or one around it) is that binding, unless it reads something that changes.
   */
  let(expr: Expr, prefix = "v"): Expr {
    if (expr.shape.kind === "lit" || expr.shape.kind === "ref") return expr;
    const key = `=${expr.text}`;
    const bound = expr.mutable ? undefined : this.memo.get(key);
    if (bound) return bound;
    const name = this.fresh(prefix);
    this.line(`let ${name} = ${expr};`);
    const ref = expr.mutable ? E.named(name, expr.type) : E.named(name, expr.type, expr);
    if (!expr.mutable) this.memo.set(key, ref);
    return ref;
  }

  /** Emits a nested block (loop body, branch) whose common subexpressions stay local to it. */
  block(open: string, body: () => void, close = "}"): void {
    if (open) this.line(open);
    const saved = this.memo;
    this.memo = new Map(saved);
    this.indent++;
    body();
    this.indent--;
    this.memo = saved;
    this.line(close);
  }

  /** The statements written so far, without the `let`s nothing reads (simplification leaves some behind). */
  takeBody(): string {
    const out = withoutUnusedLets(this.lines).join("\n");
    this.lines = [];
    return out;
  }

  /** A dimension as WGSL u32: a literal when known, a uniform slot when symbolic. */
  dim(d: Dim): Expr {
    if (typeof d === "number") return E.u32(d);
    let i = this.uniforms.findIndex((u) => dimsEqual(u, d) && dimToString(u) === dimToString(d));
    if (i < 0) {
      i = this.uniforms.length;
      this.uniforms.push(d);
    }
    return E.named(`U.d[${i >> 2}].${"xyzw"[i & 3]}`, "u32");
  }

  buffer(node: number, vec4 = false): string {
    const existing = this.bindings.find((b) => b.node === node && b.vec4 === vec4);
    if (existing) return existing.name;
    const name = `in${this.bindings.length}`;
    this.bindings.push({ node, name, vec4 });
    return name;
  }

  /** Row-major offset of `coords` in a contiguous tensor of `shape` (Horner form). */
  offset(shape: readonly Dim[], coords: readonly Expr[]): Expr {
    if (shape.length === 0) return E.u32(0);
    let acc = coords[0];
    for (let i = 1; i < shape.length; i++) acc = E.add(E.mul(acc, this.dim(shape[i])), coords[i]);
    return acc;
  }

  /** Splits a linear index into coordinates of `shape`, last axis fastest. */
  unravel(linear: Expr, shape: readonly Dim[], prefix = "c"): Expr[] {
    const coords: Expr[] = new Array<Expr>(shape.length);
    let rest = linear;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (i === 0) {
        coords[0] = this.let(rest, prefix);
        break;
      }
      const d = this.dim(shape[i]);
      coords[i] = this.let(E.mod(rest, d), prefix);
      rest = this.let(E.div(rest, d), "r");
    }
    return coords;
  }

  /** Coordinates of an operand broadcast (numpy rules, right-aligned) into an output of rank coords.length. */
  broadcastCoords(from: readonly Dim[], coords: readonly Expr[]): Expr[] {
    const lead = coords.length - from.length;
    return from.map((d, i) => (d === 1 ? E.u32(0) : coords[lead + i]));
  }

  /** The WGSL value of node `id` at `coords`. */
  value(id: number, coords: readonly Expr[]): Expr {
    const override = this.overrides.get(id);
    if (override !== undefined) return override;
    const n = this.node(id);
    if (n.op.kind === "const") return E.f32(n.op.value);
    const key = statKey(id, coords);
    const table = this.statTables.get(id);
    if (table) return this.memoized(key, () => this.let(E.element(table.array, E.sub(coords[table.axis], table.first), "f32", true), "st"));
    return this.statOverrides.get(key) ?? this.memoized(key, () => this.compute(n, coords, 1));
  }

  private memoized(key: string, make: () => Expr): Expr {
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const v = make();
    this.memo.set(key, v);
    return v;
  }

  /** The value at `coords` of one lane (`width` 1, f32), or of four along the last axis from there (4, vec4<f32>). */
  private at(id: number, coords: readonly Expr[], width: Width): Expr {
    return width === 1 ? this.value(id, coords) : this.valueVec4(id, coords);
  }

  /** An operand of elementwise math at the output's coordinates (broadcast); a splat when it has one value along the last axis. */
  private operand(input: Node, coords: readonly Expr[], width: Width): Expr {
    const c = this.broadcastCoords(input.shape, coords);
    if (width === 4 && (input.shape.length === 0 || input.shape[input.shape.length - 1] === 1))
      return E.convert("vec4f", this.value(input.id, c));
    return this.at(input.id, c, width);
  }

  /**
   * Node `n` at `coords`, one lane or four: elementwise math runs on vectors, views that keep the last
   * axis in place stay vectorised, and whatever cannot (a gather along the last axis, a matmul, a
   * convolution's patches) is four scalar values.
   */
  private compute(n: Node, coords: readonly Expr[], width: Width): Expr {
    const vector = width === 4;
    const lanes = (): Expr => this.scalarsAsVec4(n.id, coords);
    const last = coords.length - 1;
    if (!this.members.has(n.id)) {
      if (!vector) return this.let(this.load(this.buffer(n.id), this.offset(n.shape, coords), false));
      const lastDim = n.shape[last];
      if (typeof lastDim === "number" && lastDim % 4 === 0)
        return this.let(this.load(this.buffer(n.id, true), E.div(this.offset(n.shape, coords), E.u32(4)), true));
      return lanes();
    }
    const op = n.op;
    const input = (i: number): Node => this.node(n.inputs[i]);
    switch (op.kind) {
      case "unary":
        if (vector && !VEC4_UNARY.has(op.fn)) return lanes();
        if (op.fn === "erf") this.usesErf = true;
        return this.let(UNARY_WGSL[op.fn](this.operand(input(0), coords, width)));
      case "binary":
        return this.let(BINARY_WGSL[op.fn](this.operand(input(0), coords, width), this.operand(input(1), coords, width)));
      case "broadcast":
        return this.operand(input(0), coords, width);
      case "permute": {
        if (vector && op.perm[last] !== last) return lanes();
        const inner = new Array<Expr>(coords.length);
        op.perm.forEach((p, i) => (inner[p] = coords[i]));
        return this.at(n.inputs[0], inner, width);
      }
      case "slice": {
        // Along the last axis a vector stays aligned only when the start is a multiple of 4.
        if (vector && op.axis === last && (typeof op.start !== "number" || op.start % 4 !== 0)) return lanes();
        const start = this.dim(op.start);
        return this.at(
          n.inputs[0],
          coords.map((c, i) => (i === op.axis ? E.add(c, start) : c)),
          width,
        );
      }
      case "reshape": {
        const from = input(0).shape;
        if (!vector) return this.value(n.inputs[0], this.reshapeCoords(n.shape, from, coords));
        if (!dimsEqual(from[from.length - 1], n.shape[last])) return lanes();
        const outer = this.reshapeCoords(n.shape.slice(0, -1), from.slice(0, -1), coords.slice(0, -1));
        return this.valueVec4(n.inputs[0], [...outer, coords[last]]);
      }
      case "gather": {
        if (vector && op.axis === last) return lanes();
        const index = this.let(E.convert("u32", E.element(this.buffer(n.inputs[1]), coords[op.axis], "i32")), "g");
        return this.at(
          n.inputs[0],
          coords.map((c, i) => (i === op.axis ? index : c)),
          width,
        );
      }
      case "concat":
        if (vector && op.axis === last) return lanes();
        return this.concat(n, op.axis, coords, width);
    }
    if (vector) return lanes();
    switch (op.kind) {
      case "contiguous":
        return this.value(n.inputs[0], coords);
      case "resize2d":
        return op.antialias ? this.resize2dAntialias(n, op.mode, coords) : this.resize2d(n, op.mode, coords);
      case "im2col": {
        const src = input(0);
        const [kh, kw] = op.kernel;
        const u = E.u32;
        const width = E.div(E.sub(E.add(this.dim(src.shape[3]), u(2 * op.padding[1])), u(kw)), u(op.stride[1]));
        const outW = this.let(E.add(width, u(1)), "ow");
        const oh = this.let(E.div(coords[1], outW), "oh");
        const ow = this.let(E.mod(coords[1], outW), "ow");
        const c = this.let(E.div(coords[2], u(kh * kw)), "ch");
        const r = this.let(E.mod(coords[2], u(kh * kw)), "r");
        // Signed arithmetic: the padding reaches before the first row and column.
        const signed = (base: Expr, stride: number, tap: Expr, pad: number): Expr =>
          E.sub(E.convert("i32", E.add(E.mul(base, u(stride)), tap)), E.i32(pad));
        const y = this.let(signed(oh, op.stride[0], E.div(r, u(kw)), op.padding[0]), "iy");
        const x = this.let(signed(ow, op.stride[1], E.mod(r, u(kw)), op.padding[1]), "ix");
        const inside = (v: Expr, size: Dim): Expr[] => [E.ge(v, E.i32(0)), E.lt(v, E.convert("i32", this.dim(size)))];
        const out = this.fresh();
        this.line(`var ${out} = 0.0;`);
        this.block(`if (${E.and(...inside(y, src.shape[2]), ...inside(x, src.shape[3]))}) {`, () =>
          this.line(`${out} = ${this.value(src.id, [coords[0], c, E.convert("u32", y), E.convert("u32", x)])};`),
        );
        return E.variable(out, "f32");
      }
      case "pad": {
        // Inside the data: load (with the coordinate shifted back); outside: the pad value.
        const c = coords[op.axis];
        const size = this.dim(input(0).shape[op.axis]);
        const before = E.u32(op.before);
        const out = this.fresh();
        this.line(`var ${out} = ${E.f32(op.value)};`);
        this.block(`if (${E.and(E.ge(c, before), E.lt(c, E.add(before, size)))}) {`, () =>
          this.line(
            `${out} = ${this.value(
              n.inputs[0],
              coords.map((x, i) => (i === op.axis ? E.sub(x, before) : x)),
            )};`,
          ),
        );
        return E.variable(out, "f32");
      }
      case "matmul":
        return this.dotProduct(n, coords);
      default:
        throw new Error(`internal: ${op.kind} node %${n.id} has no value inside kernel ${this.group.kind} of %${this.group.root}`);
    }
  }

  /**
   * The values of node `id` at `coords` and the three following positions of the last axis, as a
   * vec4<f32> (the last coordinate must be a multiple of 4). Contiguous buffers load as one vec4;
   * elementwise math runs on vectors; views that keep the last axis in place stay vectorised;
   * anything else falls back to four scalar values.
   */
  valueVec4(id: number, coords: readonly Expr[]): Expr {
    const n = this.node(id);
    if (n.op.kind === "const") return E.vec4Of(n.op.value);
    return this.memoized(`${statKey(id, coords)}|v4`, () => this.compute(n, coords, 4));
  }

  private scalarsAsVec4(id: number, coords: readonly Expr[]): Expr {
    const last = coords.length - 1;
    const lanes = [0, 1, 2, 3].map((i) =>
      this.value(
        id,
        coords.map((c, j) => (j === last ? E.add(c, E.u32(i)) : c)),
      ),
    );
    return this.let(E.vec4(lanes));
  }

  /** torch interpolate (align_corners=False) at one output position: 2x2 (bilinear) or 4x4 (bicubic, A = -0.75) clamped taps. */
  private resize2d(n: Node, mode: "bilinear" | "bicubic", coords: readonly Expr[]): Expr {
    const src = this.node(n.inputs[0]);
    const rank = coords.length;
    const f = E.f32;
    const taps = (axis: number): { index: Expr[]; weight: Expr[] } => {
      const size = this.dim(src.shape[axis]);
      const out = this.dim(n.shape[axis]);
      const centre = E.add(E.convert("f32", coords[axis]), f(0.5));
      let pos = this.let(E.sub(E.div(E.mul(centre, E.convert("f32", size)), E.convert("f32", out)), f(0.5)), "s");
      if (mode === "bilinear") pos = this.let(E.max(pos, f(0)), "s");
      const floor = E.apply("floor", pos);
      const base = this.let(E.convert("i32", floor), "i");
      const t = this.let(E.sub(pos, floor), "t");
      const last = E.sub(E.convert("i32", size), E.i32(1));
      const clampAt = (k: number): Expr => this.let(E.convert("u32", E.call("clamp", [E.add(base, E.i32(k)), E.i32(0), last], "i32")), "k");
      if (mode === "bilinear") return { index: [clampAt(0), clampAt(1)], weight: [this.let(E.sub(f(1), t), "w"), t] };
      // Keys' cubic convolution with A = -0.75, as ATen's upsample_bicubic2d.
      const c1 = (x: Expr): Expr => E.add(E.mul(E.mul(E.sub(E.mul(f(1.25), x), f(2.25)), x), x), f(1));
      const c2 = (x: Expr): Expr => E.add(E.mul(E.sub(E.mul(E.add(E.mul(f(-0.75), x), f(3.75)), x), f(6)), x), f(3));
      const weight = [c2(E.add(t, f(1))), c1(t), c1(E.sub(f(1), t)), c2(E.sub(f(2), t))].map((w) => this.let(w, "w"));
      return { index: [-1, 0, 1, 2].map(clampAt), weight };
    };
    const ys = taps(rank - 2);
    const xs = taps(rank - 1);
    const terms: Expr[] = [];
    ys.index.forEach((yi, i) =>
      xs.index.forEach((xj, j) => {
        terms.push(E.mul(E.mul(ys.weight[i], xs.weight[j]), this.value(src.id, [...coords.slice(0, rank - 2), yi, xj])));
      }),
    );
    return this.let(terms.reduce(E.add));
  }

  /**
   * torch's antialiased interpolate at one output position: per axis, the input pixels within the
   * filter's support (1 bilinear, 2 bicubic) times the scale of the sample centre, weighted by a triangle
   * or Keys' cubic (A = -0.5, PIL's) widened by the scale, and normalised.
   */
  private resize2dAntialias(n: Node, mode: "bilinear" | "bicubic", coords: readonly Expr[]): Expr {
    const src = this.node(n.inputs[0]);
    const rank = coords.length;
    const f = E.f32;
    const axis = (a: number): { start: Expr; count: Expr; weight: (j: Expr) => Expr } => {
      const [inSize, outSize] = [src.shape[a] as number, n.shape[a] as number];
      const scale = inSize / outSize;
      const support = (mode === "bicubic" ? 2 : 1) * Math.max(scale, 1);
      const inv = scale >= 1 ? 1 / scale : 1;
      const centre = this.let(E.mul(f(scale), E.add(E.convert("f32", coords[a]), f(0.5))), "c");
      const edge = (offset: number): Expr => E.convert("i32", E.add(E.add(centre, f(offset)), f(0.5)));
      const start = this.let(E.convert("u32", E.max(edge(-support), E.i32(0))), "lo");
      const count = this.let(E.sub(E.convert("u32", E.min(edge(support), E.i32(inSize))), start), "n");
      const t = (j: Expr): Expr => E.apply("abs", E.mul(E.add(E.sub(E.convert("f32", E.add(j, start)), centre), f(0.5)), f(inv)));
      const weight = (j: Expr): Expr => (mode === "bicubic" ? E.apply("aa_cubic", t(j)) : E.max(f(0), E.sub(f(1), t(j))));
      if (mode === "bicubic") this.usesAaCubic = true;
      return { start, count, weight };
    };
    const [ya, xa] = [axis(rank - 2), axis(rank - 1)];
    const [acc, wy, wx] = [this.fresh("acc"), this.fresh("wsy"), this.fresh("wsx")];
    this.line(`var ${acc} = 0.0;`);
    this.line(`var ${wy} = 0.0;`);
    this.line(`var ${wx} = 0.0;`);
    const [i, j] = [this.fresh("ty"), this.fresh("tx")];
    const [iv, jv] = [E.named(i, "u32"), E.named(j, "u32")];
    this.block(`for (var ${j} = 0u; ${j} < ${xa.count}; ${j} = ${j} + 1u) {`, () => this.line(`${wx} = ${wx} + ${xa.weight(jv)};`));
    this.block(`for (var ${i} = 0u; ${i} < ${ya.count}; ${i} = ${i} + 1u) {`, () => {
      const w1 = this.let(ya.weight(iv), "w");
      this.line(`${wy} = ${wy} + ${w1};`);
      this.block(`for (var ${j} = 0u; ${j} < ${xa.count}; ${j} = ${j} + 1u) {`, () => {
        const v = this.value(src.id, [...coords.slice(0, rank - 2), E.add(ya.start, iv), E.add(xa.start, jv)]);
        this.line(`${acc} = ${acc} + ${E.mul(E.mul(w1, xa.weight(jv)), v)};`);
      });
    });
    return this.let(E.div(E.variable(acc, "f32"), E.mul(E.variable(wy, "f32"), E.variable(wx, "f32"))));
  }

  /** An inlined contraction at one output position: a dot-product loop over K. */
  private dotProduct(n: Node, coords: readonly Expr[]): Expr {
    const [a, b] = [this.node(n.inputs[0]), this.node(n.inputs[1])];
    const rank = coords.length;
    const batch = coords.slice(0, rank - 2);
    const [m, col] = [coords[rank - 2], coords[rank - 1]];
    const acc = this.fresh("dot");
    const k = this.fresh("kk");
    const kv = E.named(k, "u32");
    this.line(`var ${acc} = 0.0;`);
    this.block(`for (var ${k} = 0u; ${k} < ${this.dim(a.shape[a.shape.length - 1])}; ${k} = ${k} + 1u) {`, () => {
      const av = this.value(a.id, [...this.broadcastCoords(a.shape.slice(0, -2), batch), m, kv]);
      const bv = this.value(b.id, [...this.broadcastCoords(b.shape.slice(0, -2), batch), col, kv]);
      this.line(`${acc} = fma(${av}, ${bv}, ${acc});`);
    });
    return E.variable(acc, "f32");
  }

  /** A concat as a branch on the coordinate along its axis; each side computes only its own operand. */
  private concat(n: Node, axis: number, coords: readonly Expr[], width: Width): Expr {
    const split = this.dim(this.node(n.inputs[0]).shape[axis]);
    const type = width === 4 ? "vec4f" : "f32";
    const out = this.fresh();
    this.line(`var ${out}: ${width === 4 ? "vec4<f32>" : "f32"};`);
    this.block(`if (${E.lt(coords[axis], split)}) {`, () => this.line(`${out} = ${this.at(n.inputs[0], coords, width)};`), "} else {");
    this.block(
      "",
      () =>
        this.line(
          `${out} = ${this.at(
            n.inputs[1],
            coords.map((x, i) => (i === axis ? E.sub(x, split) : x)),
            width,
          )};`,
        ),
      "}",
    );
    return E.variable(out, type);
  }

  /** Output coordinates of a reshape to input coordinates; axes both shapes share in front are passed through. */
  private reshapeCoords(outShape: readonly Dim[], inShape: readonly Dim[], coords: readonly Expr[]): Expr[] {
    let common = 0;
    while (common < outShape.length && common < inShape.length && dimsEqual(outShape[common], inShape[common])) common++;
    // Trailing axes that agree need no arithmetic either, when everything between them is the same element count.
    const outRest = outShape.slice(common);
    const inRest = inShape.slice(common);
    if (inRest.length === 0) return coords.slice(0, common);
    const linear = outRest.length === 0 ? E.u32(0) : this.let(this.offset(outRest, coords.slice(common)), "l");
    const inner = this.unravel(linear, inRest, "c");
    return [...coords.slice(0, common), ...inner];
  }

  /** The complete WGSL module around a template's entry point. */
  module(entry: string): string {
    const parts: string[] = [];
    const t = this.storage;
    if (t === "f16") parts.push("enable f16;");
    for (const e of this.enables) parts.push(`enable ${e};`);
    const slots = Math.max(1, Math.ceil(this.uniforms.length / 4));
    parts.push(`struct Dims { d: array<vec4<u32>, ${slots}> }`);
    this.bindings.forEach((b, i) => {
      const elem = this.node(b.node).dtype === "i32" ? "i32" : b.vec4 ? `vec4<${t}>` : t;
      parts.push(`@group(0) @binding(${i}) var<storage, read> ${b.name}: array<${elem}>;`);
    });
    parts.push(`@group(0) @binding(${this.bindings.length}) var<storage, read_write> out: array<${t}>;`);
    parts.push(`@group(0) @binding(${this.bindings.length + 1}) var<uniform> U: Dims;`);
    if (this.checksRange) parts.push(`@group(0) @binding(${this.bindings.length + 2}) var<storage, read_write> overflow: atomic<u32>;`);
    if (this.usesErf) parts.push(ERF_WGSL);
    if (this.usesAaCubic) parts.push(AA_CUBIC_WGSL);
    parts.push(entry);
    return `${parts.join("\n")}\n`;
  }
}

/** Keys' cubic with A = -0.5 at |t| (torch's and PIL's antialiasing bicubic filter). */
const AA_CUBIC_WGSL = `fn aa_cubic(x: f32) -> f32 {
  if (x < 1.0) { return (1.5 * x - 2.5) * x * x + 1.0; }
  if (x < 2.0) { return -0.5 * (((x - 5.0) * x + 8.0) * x - 4.0); }
  return 0.0;
}`;

/** The largest finite f16, as WGSL. */
const F16_MAX = "65504.0";

const LET = /^\s*let (\w+) = /;
const NAME = /[A-Za-z_]\w*/g;

/** Drops `let`s no other statement names, then those only they named, until every `let` left is read. */
function withoutUnusedLets(lines: readonly string[]): string[] {
  const uses = new Map<string, number>();
  for (const line of lines) for (const name of line.match(NAME) ?? []) uses.set(name, (uses.get(name) ?? 0) + 1);
  const dropped = new Set<number>();
  const declaredAt = new Map<string, number>();
  lines.forEach((line, i) => {
    const m = LET.exec(line);
    if (m) declaredAt.set(m[1], i);
  });
  const unused = [...declaredAt.keys()].filter((name) => uses.get(name) === 1);
  while (unused.length) {
    const name = unused.pop() as string;
    const i = declaredAt.get(name) as number;
    dropped.add(i);
    for (const used of lines[i].match(NAME)?.slice(2) ?? []) {
      const left = (uses.get(used) ?? 0) - 1;
      uses.set(used, left);
      if (left === 1 && declaredAt.has(used) && !dropped.has(declaredAt.get(used) as number)) unused.push(used);
    }
  }
  return lines.filter((_, i) => !dropped.has(i));
}

export function statKey(id: number, coords: readonly Expr[]): string {
  return `${id}|${coords.join(",")}`;
}
