import { dimToString, dimsEqual, type Dim } from "../../core/dims.ts";
import type { BinaryFn, Graph, Node, UnaryFn } from "../../core/graph.ts";
import type { KernelGroup } from "../fusion/groups.ts";
import type { StorageType } from "../../core/plan.ts";

/** WGSL for one coordinate or value: an expression string. */
export type Code = string;

/** Lanes of a value: an f32, or a vec4<f32> of four neighbours along the last axis. */
type Width = 1 | 4;

const UNARY_WGSL: Record<UnaryFn, (x: Code) => Code> = {
  neg: (x) => `-(${x})`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  rsqrt: (x) => `inverseSqrt(${x})`,
  // Clamped: tanh saturates long before 15 in f32, and some drivers return NaN for huge arguments.
  tanh: (x) => `tanh(clamp(${x}, -15.0, 15.0))`,
  erf: (x) => `erf_f32(${x})`,
  sigmoid: (x) => `(1.0 / (1.0 + exp(-(${x}))))`,
  recip: (x) => `(1.0 / ${x})`,
  abs: (x) => `abs(${x})`,
  relu: (x) => `max(${x}, 0.0)`,
};

/** Unary ops whose WGSL form above is valid for vec4<f32> as well. */
const VEC4_UNARY: ReadonlySet<UnaryFn> = new Set(["neg", "exp", "log", "sqrt", "rsqrt", "sigmoid", "recip", "abs"]);

const BINARY_WGSL: Record<BinaryFn, (a: Code, b: Code) => Code> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  max: (a, b) => `max(${a}, ${b})`,
  min: (a, b) => `min(${a}, ${b})`,
  pow: (a, b) => `pow(${a}, ${b})`,
};

// erfc from Numerical Recipes (Chebyshev fit, fractional error < 1.2e-7); WGSL has no erf.
const ERF_WGSL = `fn erf_f32(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}`;

/** The lowest finite f32, as WGSL: where a running maximum starts, and what masked-out scores become. */
export const F32_LOWEST: Code = "-3.402823e38";

export function floatLiteral(v: number): Code {
  if (!Number.isFinite(v)) throw new Error(`constant ${v} cannot be written in WGSL`);
  const s = Math.abs(v) < 1e-30 && v !== 0 ? v.toExponential() : String(v);
  const lit = /[.eE]/.test(s) ? s : `${s}.0`;
  return v < 0 ? `(${lit})` : lit;
}

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
  readonly overrides = new Map<number, Code>();
  /** Statistics of one row among several a thread handles, keyed by `statKey(node, coords)`. */
  readonly statOverrides = new Map<string, Code>();
  /**
   * Statistics held in a private array, one per row of a range that starts at `first`: read at any row
   * computed at run time (the rows of a normalisation seen through a reshape of the matmul's A).
   */
  readonly statTables = new Map<number, { array: string; first: Code; axis: number }>();
  /** WGSL extensions the kernel uses (besides f16, which follows the storage type). */
  readonly enables = new Set<string>();
  private lines: string[] = [];
  private memo = new Map<string, Code>();
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
  store(offset: Code, value: Code): void {
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

  private load(buffer: string, index: Code, vec4: boolean): Code {
    const raw = `${buffer}[${index}]`;
    if (this.storage === "f32") return raw;
    return vec4 ? `vec4<f32>(${raw})` : `f32(${raw})`;
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

  let(expr: Code, prefix = "v"): Code {
    const name = this.fresh(prefix);
    this.line(`let ${name} = ${expr};`);
    return name;
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

  takeBody(): string {
    const out = this.lines.join("\n");
    this.lines = [];
    return out;
  }

  /** A dimension as WGSL u32: a literal when known, a uniform slot when symbolic. */
  dim(d: Dim): Code {
    if (typeof d === "number") return `${d}u`;
    let i = this.uniforms.findIndex((u) => dimsEqual(u, d) && dimToString(u) === dimToString(d));
    if (i < 0) {
      i = this.uniforms.length;
      this.uniforms.push(d);
    }
    return `U.d[${i >> 2}].${"xyzw"[i & 3]}`;
  }

  buffer(node: number, vec4 = false): string {
    const existing = this.bindings.find((b) => b.node === node && b.vec4 === vec4);
    if (existing) return existing.name;
    const name = `in${this.bindings.length}`;
    this.bindings.push({ node, name, vec4 });
    return name;
  }

  /** Row-major offset of `coords` in a contiguous tensor of `shape` (Horner form). */
  offset(shape: readonly Dim[], coords: readonly Code[]): Code {
    if (shape.length === 0) return "0u";
    let acc = coords[0];
    for (let i = 1; i < shape.length; i++) acc = `(${acc} * ${this.dim(shape[i])} + ${coords[i]})`;
    return acc;
  }

  /** Splits a linear index into coordinates of `shape`, last axis fastest. */
  unravel(linear: Code, shape: readonly Dim[], prefix = "c"): Code[] {
    const coords: Code[] = new Array<Code>(shape.length);
    let rest = linear;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (i === 0) {
        coords[0] = this.let(rest, prefix);
        break;
      }
      const d = this.dim(shape[i]);
      coords[i] = this.let(`${rest} % ${d}`, prefix);
      rest = this.let(`${rest} / ${d}`, "r");
    }
    return coords;
  }

  /** Coordinates of an operand broadcast (numpy rules, right-aligned) into an output of rank coords.length. */
  broadcastCoords(from: readonly Dim[], coords: readonly Code[]): Code[] {
    const lead = coords.length - from.length;
    return from.map((d, i) => (d === 1 ? "0u" : coords[lead + i]));
  }

  /** The WGSL value of node `id` at `coords`. */
  value(id: number, coords: readonly Code[]): Code {
    const override = this.overrides.get(id);
    if (override !== undefined) return override;
    const n = this.node(id);
    if (n.op.kind === "const") return floatLiteral(n.op.value);
    const key = statKey(id, coords);
    const table = this.statTables.get(id);
    if (table) return this.memoized(key, () => this.let(`${table.array}[${coords[table.axis]} - ${table.first}]`, "st"));
    return this.statOverrides.get(key) ?? this.memoized(key, () => this.compute(n, coords, 1));
  }

  private memoized(key: string, make: () => Code): Code {
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const v = make();
    this.memo.set(key, v);
    return v;
  }

  /** The value at `coords` of one lane (`width` 1, f32), or of four along the last axis from there (4, vec4<f32>). */
  private at(id: number, coords: readonly Code[], width: Width): Code {
    return width === 1 ? this.value(id, coords) : this.valueVec4(id, coords);
  }

  /** An operand of elementwise math at the output's coordinates (broadcast); a splat when it has one value along the last axis. */
  private operand(input: Node, coords: readonly Code[], width: Width): Code {
    const c = this.broadcastCoords(input.shape, coords);
    if (width === 4 && (input.shape.length === 0 || input.shape[input.shape.length - 1] === 1))
      return `vec4<f32>(${this.value(input.id, c)})`;
    return this.at(input.id, c, width);
  }

  /**
   * Node `n` at `coords`, one lane or four: elementwise math runs on vectors, views that keep the last
   * axis in place stay vectorised, and whatever cannot (a gather along the last axis, a matmul, a
   * convolution's patches) is four scalar values.
   */
  private compute(n: Node, coords: readonly Code[], width: Width): Code {
    const vector = width === 4;
    const lanes = (): Code => this.scalarsAsVec4(n.id, coords);
    const last = coords.length - 1;
    if (!this.members.has(n.id)) {
      if (!vector) return this.let(this.load(this.buffer(n.id), this.offset(n.shape, coords), false));
      const lastDim = n.shape[last];
      if (typeof lastDim === "number" && lastDim % 4 === 0)
        return this.let(this.load(this.buffer(n.id, true), `${this.offset(n.shape, coords)} / 4u`, true));
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
        const inner = new Array<Code>(coords.length);
        op.perm.forEach((p, i) => (inner[p] = coords[i]));
        return this.at(n.inputs[0], inner, width);
      }
      case "slice": {
        // Along the last axis a vector stays aligned only when the start is a multiple of 4.
        if (vector && op.axis === last && (typeof op.start !== "number" || op.start % 4 !== 0)) return lanes();
        const start = this.dim(op.start);
        return this.at(
          n.inputs[0],
          coords.map((c, i) => (i === op.axis && op.start !== 0 ? `(${c} + ${start})` : c)),
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
        const index = this.let(`u32(${this.buffer(n.inputs[1])}[${coords[op.axis]}])`, "g");
        return this.at(
          n.inputs[0],
          coords.map((c, i) => (i === op.axis ? index : c)),
          width,
        );
      }
      case "concat":
        if (vector && op.axis === last) return lanes();
        return this.concat(n, op.axis, coords, vector ? "vec4<f32>" : "f32", (id, c) => this.at(id, c, width));
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
        const outW = this.let(`(${this.dim(src.shape[3])} + ${2 * op.padding[1]}u - ${kw}u) / ${op.stride[1]}u + 1u`, "ow");
        const oh = this.let(`${coords[1]} / ${outW}`, "oh");
        const ow = this.let(`${coords[1]} % ${outW}`, "ow");
        const c = this.let(`${coords[2]} / ${kh * kw}u`, "ch");
        const r = this.let(`${coords[2]} % ${kh * kw}u`, "r");
        // Signed arithmetic: the padding reaches before the first row and column.
        const y = this.let(`i32(${oh} * ${op.stride[0]}u + ${r} / ${kw}u) - ${op.padding[0]}`, "iy");
        const x = this.let(`i32(${ow} * ${op.stride[1]}u + ${r} % ${kw}u) - ${op.padding[1]}`, "ix");
        const out = this.fresh();
        this.line(`var ${out} = 0.0;`);
        this.block(`if (${y} >= 0 && ${y} < i32(${this.dim(src.shape[2])}) && ${x} >= 0 && ${x} < i32(${this.dim(src.shape[3])})) {`, () =>
          this.line(`${out} = ${this.value(src.id, [coords[0], c, `u32(${y})`, `u32(${x})`])};`),
        );
        return out;
      }
      case "pad": {
        // Inside the data: load (with the coordinate shifted back); outside: the pad value.
        const c = coords[op.axis];
        const size = this.dim(input(0).shape[op.axis]);
        const out = this.fresh();
        this.line(`var ${out} = ${floatLiteral(op.value)};`);
        this.block(`if (${c} >= ${op.before}u && ${c} < ${op.before}u + ${size}) {`, () =>
          this.line(
            `${out} = ${this.value(
              n.inputs[0],
              coords.map((x, i) => (i === op.axis ? `(${x} - ${op.before}u)` : x)),
            )};`,
          ),
        );
        return out;
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
  valueVec4(id: number, coords: readonly Code[]): Code {
    const n = this.node(id);
    if (n.op.kind === "const") return `vec4<f32>(${floatLiteral(n.op.value)})`;
    return this.memoized(`${statKey(id, coords)}|v4`, () => this.compute(n, coords, 4));
  }

  private scalarsAsVec4(id: number, coords: readonly Code[]): Code {
    const last = coords.length - 1;
    const lanes = [0, 1, 2, 3].map((i) =>
      this.value(
        id,
        coords.map((c, j) => (j === last && i > 0 ? `(${c} + ${i}u)` : c)),
      ),
    );
    return this.let(`vec4<f32>(${lanes.join(", ")})`);
  }

  /** torch interpolate (align_corners=False) at one output position: 2x2 (bilinear) or 4x4 (bicubic, A = -0.75) clamped taps. */
  private resize2d(n: Node, mode: "bilinear" | "bicubic", coords: readonly Code[]): Code {
    const src = this.node(n.inputs[0]);
    const rank = coords.length;
    const taps = (axis: number): { index: Code[]; weight: Code[] } => {
      const size = this.dim(src.shape[axis]);
      const out = this.dim(n.shape[axis]);
      let pos = this.let(`(f32(${coords[axis]}) + 0.5) * f32(${size}) / f32(${out}) - 0.5`, "s");
      if (mode === "bilinear") pos = this.let(`max(${pos}, 0.0)`, "s");
      const base = this.let(`i32(floor(${pos}))`, "i");
      const t = this.let(`${pos} - floor(${pos})`, "t");
      const clampAt = (k: number): Code => this.let(`u32(clamp(${base} + ${k}, 0, i32(${size}) - 1))`, "k");
      if (mode === "bilinear") return { index: [clampAt(0), clampAt(1)], weight: [this.let(`1.0 - ${t}`, "w"), t] };
      // Keys' cubic convolution with A = -0.75, as ATen's upsample_bicubic2d.
      const c1 = (x: Code): Code => `((1.25 * ${x} - 2.25) * ${x} * ${x} + 1.0)`;
      const c2 = (x: Code): Code => `(((-0.75 * ${x} + 3.75) * ${x} - 6.0) * ${x} + 3.0)`;
      const weight = [c2(`(${t} + 1.0)`), c1(t), c1(`(1.0 - ${t})`), c2(`(2.0 - ${t})`)].map((w) => this.let(w, "w"));
      return { index: [-1, 0, 1, 2].map(clampAt), weight };
    };
    const ys = taps(rank - 2);
    const xs = taps(rank - 1);
    const terms: Code[] = [];
    ys.index.forEach((yi, i) =>
      xs.index.forEach((xj, j) => {
        terms.push(`${ys.weight[i]} * ${xs.weight[j]} * ${this.value(src.id, [...coords.slice(0, rank - 2), yi, xj])}`);
      }),
    );
    return this.let(terms.join(" + "));
  }

  /**
   * torch's antialiased interpolate at one output position: per axis, the input pixels within the
   * filter's support (1 bilinear, 2 bicubic) times the scale of the sample centre, weighted by a triangle
   * or Keys' cubic (A = -0.5, PIL's) widened by the scale, and normalised.
   */
  private resize2dAntialias(n: Node, mode: "bilinear" | "bicubic", coords: readonly Code[]): Code {
    const src = this.node(n.inputs[0]);
    const rank = coords.length;
    const axis = (a: number): { start: Code; count: Code; weight: (j: Code) => Code } => {
      const [inSize, outSize] = [src.shape[a] as number, n.shape[a] as number];
      const scale = inSize / outSize;
      const support = (mode === "bicubic" ? 2 : 1) * Math.max(scale, 1);
      const inv = scale >= 1 ? 1 / scale : 1;
      const centre = this.let(`${floatLiteral(scale)} * (f32(${coords[a]}) + 0.5)`, "c");
      const start = this.let(`u32(max(i32(${centre} - ${floatLiteral(support)} + 0.5), 0))`, "lo");
      const count = this.let(`u32(min(i32(${centre} + ${floatLiteral(support)} + 0.5), ${inSize})) - ${start}`, "n");
      const t = (j: Code): Code => `abs((f32(${j} + ${start}) - ${centre} + 0.5) * ${floatLiteral(inv)})`;
      const weight = (j: Code): Code => (mode === "bicubic" ? `aa_cubic(${t(j)})` : `max(0.0, 1.0 - ${t(j)})`);
      if (mode === "bicubic") this.usesAaCubic = true;
      return { start, count, weight };
    };
    const [ya, xa] = [axis(rank - 2), axis(rank - 1)];
    const [acc, wy, wx] = [this.fresh("acc"), this.fresh("wsy"), this.fresh("wsx")];
    this.line(`var ${acc} = 0.0;`);
    this.line(`var ${wy} = 0.0;`);
    this.line(`var ${wx} = 0.0;`);
    const [i, j] = [this.fresh("ty"), this.fresh("tx")];
    this.block(`for (var ${j} = 0u; ${j} < ${xa.count}; ${j} = ${j} + 1u) {`, () => this.line(`${wx} = ${wx} + ${xa.weight(j)};`));
    this.block(`for (var ${i} = 0u; ${i} < ${ya.count}; ${i} = ${i} + 1u) {`, () => {
      const w1 = this.let(ya.weight(i), "w");
      this.line(`${wy} = ${wy} + ${w1};`);
      this.block(`for (var ${j} = 0u; ${j} < ${xa.count}; ${j} = ${j} + 1u) {`, () => {
        const v = this.value(src.id, [...coords.slice(0, rank - 2), `(${ya.start} + ${i})`, `(${xa.start} + ${j})`]);
        this.line(`${acc} = ${acc} + ${w1} * ${xa.weight(j)} * ${v};`);
      });
    });
    return this.let(`${acc} / (${wy} * ${wx})`);
  }

  /** An inlined contraction at one output position: a dot-product loop over K. */
  private dotProduct(n: Node, coords: readonly Code[]): Code {
    const [a, b] = [this.node(n.inputs[0]), this.node(n.inputs[1])];
    const rank = coords.length;
    const batch = coords.slice(0, rank - 2);
    const [m, col] = [coords[rank - 2], coords[rank - 1]];
    const acc = this.fresh("dot");
    const k = this.fresh("kk");
    this.line(`var ${acc} = 0.0;`);
    this.block(`for (var ${k} = 0u; ${k} < ${this.dim(a.shape[a.shape.length - 1])}; ${k} = ${k} + 1u) {`, () => {
      const av = this.value(a.id, [...this.broadcastCoords(a.shape.slice(0, -2), batch), m, k]);
      const bv = this.value(b.id, [...this.broadcastCoords(b.shape.slice(0, -2), batch), col, k]);
      this.line(`${acc} = fma(${av}, ${bv}, ${acc});`);
    });
    return acc;
  }

  /** A concat as a branch on the coordinate along its axis; each side computes only its own operand. */
  private concat(
    n: Node,
    axis: number,
    coords: readonly Code[],
    type: string,
    valueAt: (id: number, coords: readonly Code[]) => Code,
  ): Code {
    const split = this.dim(this.node(n.inputs[0]).shape[axis]);
    const out = this.fresh();
    this.line(`var ${out}: ${type};`);
    this.block(`if (${coords[axis]} < ${split}) {`, () => this.line(`${out} = ${valueAt(n.inputs[0], coords)};`), "} else {");
    this.block(
      "",
      () =>
        this.line(
          `${out} = ${valueAt(
            n.inputs[1],
            coords.map((x, i) => (i === axis ? `(${x} - ${split})` : x)),
          )};`,
        ),
      "}",
    );
    return out;
  }

  /** Output coordinates of a reshape to input coordinates; axes both shapes share in front are passed through. */
  private reshapeCoords(outShape: readonly Dim[], inShape: readonly Dim[], coords: readonly Code[]): Code[] {
    let common = 0;
    while (common < outShape.length && common < inShape.length && dimsEqual(outShape[common], inShape[common])) common++;
    // Trailing axes that agree need no arithmetic either, when everything between them is the same element count.
    const outRest = outShape.slice(common);
    const inRest = inShape.slice(common);
    if (inRest.length === 0) return coords.slice(0, common);
    const linear = outRest.length === 0 ? "0u" : this.let(this.offset(outRest, coords.slice(common)), "l");
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

export function statKey(id: number, coords: readonly Code[]): string {
  return `${id}|${coords.join(",")}`;
}
