/**
 * Kernel expressions as data: a typed tree whose type carries the vector width (`f32` one lane,
 * `vec4f` four neighbours along the last axis). Constructors simplify index arithmetic as they build
 * (constants folded, `+ 0u`, `* 1u` and `% 1u` dropped, constant offsets gathered), every node prints
 * itself once through one WGSL printer (`render`), and that text is the key under which the kernel
 * writer shares a repeated subexpression.
 */

export type ScalarType = "u32" | "i32" | "f32" | "bool";
/** `f16` and `vec4h` only as read from f16 storage, converted to f32 where they are loaded. */
export type ExprType = ScalarType | "vec4f" | "f16" | "vec4h";

type ArithOp = "+" | "-" | "*" | "/" | "%";
type CompareOp = "<" | "<=" | ">" | ">=" | "==" | "!=";
type LogicOp = "&&" | "||";
export type BinaryOp = ArithOp | CompareOp | LogicOp;

type Shape =
  | { kind: "lit"; value: number | boolean }
  /**
   * A value with a name: a `let` of the writer (with the expression it binds, which division and
   * remainder look through), a builtin (`lid.x`), a uniform slot, a template's `var`.
   */
  | { kind: "ref"; name: string; definition?: Expr }
  | { kind: "binary"; op: BinaryOp; a: Expr; b: Expr }
  | { kind: "neg"; arg: Expr }
  | { kind: "call"; fn: string; args: readonly Expr[] }
  | { kind: "index"; array: string; index: Expr }
  /** A conversion (`f32(x)`, `u32(x)`) or, to `vec4f` from a scalar, a splat. */
  | { kind: "convert"; arg: Expr }
  | { kind: "vec4"; lanes: readonly Expr[] }
  | { kind: "lane"; vec: Expr; lane: Expr };

export class Expr {
  /** The WGSL text: printed once, when the node is built. */
  readonly text: string;
  readonly precedence: number;

  constructor(
    readonly type: ExprType,
    readonly shape: Shape,
    /** Whether it reads something that changes (a `var`, workgroup memory): never shared by CSE. */
    readonly mutable: boolean,
  ) {
    this.precedence = precedenceOf(shape);
    this.text = render(type, shape);
  }

  /** Exprs interpolate into statement templates as their WGSL. */
  toString(): string {
    return this.text;
  }
}

const ATOM = 10;
const PRECEDENCE: Record<BinaryOp, number> = {
  "*": 8,
  "/": 8,
  "%": 8,
  "+": 7,
  "-": 7,
  "<": 5,
  "<=": 5,
  ">": 5,
  ">=": 5,
  "==": 5,
  "!=": 5,
  "&&": 3,
  "||": 2,
};

function precedenceOf(s: Shape): number {
  if (s.kind === "binary") return PRECEDENCE[s.op];
  if (s.kind === "neg") return 9;
  return ATOM;
}

const WGSL_TYPE: Record<ExprType, string> = {
  u32: "u32",
  i32: "i32",
  f32: "f32",
  bool: "bool",
  vec4f: "vec4<f32>",
  f16: "f16",
  vec4h: "vec4<f16>",
};

/** The one WGSL printer. */
function render(type: ExprType, s: Shape): string {
  switch (s.kind) {
    case "lit":
      return literalText(type, s.value);
    case "ref":
      return s.name;
    case "binary": {
      // WGSL's grammar: comparisons do not chain, && and || do not mix.
      const p = PRECEDENCE[s.op];
      const chains = (child: Expr): boolean =>
        child.precedence === p && (p >= 7 || (child.shape.kind === "binary" && child.shape.op === s.op));
      const left = s.a.precedence > p || chains(s.a) ? s.a.text : `(${s.a.text})`;
      const right = s.b.precedence > p ? s.b.text : `(${s.b.text})`;
      return `${left} ${s.op} ${right}`;
    }
    case "neg":
      return s.arg.precedence >= 9 ? `-${s.arg.text}` : `-(${s.arg.text})`;
    case "call":
      return `${s.fn}(${s.args.map((a) => a.text).join(", ")})`;
    case "index":
      return `${s.array}[${s.index.text}]`;
    case "convert":
      return `${WGSL_TYPE[type]}(${s.arg.text})`;
    case "vec4":
      return `vec4<f32>(${s.lanes.map((l) => l.text).join(", ")})`;
    case "lane":
      return `${s.vec.precedence === ATOM ? s.vec.text : `(${s.vec.text})`}[${s.lane.text}]`;
  }
}

function literalText(type: ExprType, value: number | boolean): string {
  if (typeof value === "boolean") return String(value);
  if (type === "u32") return `${value}u`;
  if (type === "i32") return value < 0 ? `(${value}i)` : `${value}i`;
  if (type === "vec4f") return `vec4<f32>(${floatLiteral(value)})`;
  return floatLiteral(value);
}

export function floatLiteral(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`constant ${v} cannot be written in WGSL`);
  const s = Math.abs(v) < 1e-30 && v !== 0 ? v.toExponential() : String(v);
  const lit = /[.eE]/.test(s) ? s : `${s}.0`;
  return v < 0 ? `(${lit})` : lit;
}

// ---- leaves ----

export const u32 = (v: number): Expr => new Expr("u32", { kind: "lit", value: v >>> 0 }, false);
export const i32 = (v: number): Expr => new Expr("i32", { kind: "lit", value: v | 0 }, false);
export const f32 = (v: number): Expr => new Expr("f32", { kind: "lit", value: v }, false);
export const vec4Of = (v: number): Expr => new Expr("vec4f", { kind: "lit", value: v }, false);

/** A named value that does not change while the kernel runs (a `let`, a builtin, a uniform slot). */
export const named = (name: string, type: ExprType, definition?: Expr): Expr =>
  new Expr(type, definition ? { kind: "ref", name, definition } : { kind: "ref", name }, false);

/** A `var` or a loop counter: read where it stands, never shared with an earlier read. */
export const variable = (name: string, type: ExprType): Expr => new Expr(type, { kind: "ref", name }, true);

/** An element of an array: a read-only binding, or (`mutable`) workgroup memory or a private array. */
export const element = (array: string, index: Expr, type: ExprType, mutable = false): Expr =>
  new Expr(type, { kind: "index", array, index }, mutable || index.mutable);

// ---- index arithmetic (u32, i32): simplified as built ----

const integer = (t: ExprType): boolean => t === "u32" || t === "i32";
const litValue = (e: Expr): number | null => (e.shape.kind === "lit" && typeof e.shape.value === "number" ? e.shape.value : null);
const wrap = (t: ExprType, v: number): number => (t === "u32" ? v >>> 0 : v | 0);
const lit = (t: ExprType, v: number): Expr => (t === "u32" ? u32(v) : t === "i32" ? i32(v) : new Expr(t, { kind: "lit", value: v }, false));

function binary(op: BinaryOp, a: Expr, b: Expr, type: ExprType = a.type): Expr {
  return new Expr(type, { kind: "binary", op, a, b }, a.mutable || b.mutable);
}

function sameOperands(a: Expr, b: Expr): void {
  if (a.type === b.type) return;
  // A scalar meets a vector as a splat, as in WGSL's mixed vector-scalar arithmetic.
  if ((a.type === "vec4f" && b.type === "f32") || (a.type === "f32" && b.type === "vec4f")) return;
  throw new Error(`internal: ${a.type} ${a.text} meets ${b.type} ${b.text}`);
}

const resultType = (a: Expr, b: Expr): ExprType => (a.type === "vec4f" || b.type === "vec4f" ? "vec4f" : a.type);

/** `x + c` as [x, c] where c is a constant, for gathering constant offsets. */
function splitOffset(e: Expr): [Expr | null, number] {
  const v = litValue(e);
  if (v !== null) return [null, v];
  if (e.shape.kind === "binary" && (e.shape.op === "+" || e.shape.op === "-")) {
    const c = litValue(e.shape.b);
    if (c !== null) return [e.shape.a, e.shape.op === "+" ? c : -c];
  }
  return [e, 0];
}

export function add(a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  if (!integer(a.type)) return binary("+", a, b, resultType(a, b));
  const [x, cx] = splitOffset(a);
  const [y, cy] = splitOffset(b);
  return offsetBy(x === null ? y : y === null ? x : binary("+", x, y), cx + cy, a.type);
}

export function sub(a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  if (!integer(a.type)) return binary("-", a, b, resultType(a, b));
  if (!a.mutable && a.text === b.text) return lit(a.type, 0);
  const [x, cx] = splitOffset(a);
  const [y, cy] = splitOffset(b);
  if (y === null) return offsetBy(x, cx - cy, a.type);
  // A constant left over is added back at the end: (x + 3) - (y + 1) is (x - y) + 2.
  return offsetBy(binary("-", x ?? lit(a.type, 0), y), cx - cy, a.type);
}

/** `x + c`, `x - c` or `c`, for integer x; x null is 0. */
function offsetBy(x: Expr | null, c: number, type: ExprType): Expr {
  if (x === null) return lit(type, wrap(type, c));
  if (c === 0) return x;
  // For u32 a negative offset is a subtraction; wrapping arithmetic makes either form exact.
  return c > 0 ? binary("+", x, lit(type, c)) : binary("-", x, lit(type, -c));
}

export function mul(a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  if (!integer(a.type)) return binary("*", a, b, resultType(a, b));
  const [va, vb] = [litValue(a), litValue(b)];
  if (va !== null && vb !== null) return lit(a.type, wrap(a.type, Math.imul(va, vb)));
  if (va === 0 || vb === 0) return lit(a.type, 0);
  if (va === 1) return b;
  if (vb === 1) return a;
  // (x * c1) * c2 is x * (c1 * c2).
  if (vb !== null && a.shape.kind === "binary" && a.shape.op === "*") {
    const inner = litValue(a.shape.b);
    if (inner !== null) return mul(a.shape.a, lit(a.type, wrap(a.type, Math.imul(inner, vb))));
  }
  return binary("*", a, b);
}

export function div(a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  if (!integer(a.type)) return binary("/", a, b, resultType(a, b));
  const [va, vb] = [litValue(a), litValue(b)];
  if (vb === 1) return a;
  if (va === 0) return a;
  if (va !== null && vb !== null && vb !== 0) return lit(a.type, wrap(a.type, Math.trunc(va / vb)));
  if (a.type === "u32" && vb !== null && vb > 1) {
    const inner = definitionOf(a);
    // (x / c1) / c2 is x / (c1 * c2).
    if (inner.shape.kind === "binary" && inner.shape.op === "/") {
      const c1 = litValue(inner.shape.b);
      if (c1 !== null && c1 * vb < 2 ** 32) return div(inner.shape.a, u32(c1 * vb));
    }
    const { multiples, rest } = splitByMultiple(inner, vb);
    if (multiples.length > 0) {
      const whole = sumOf(multiples.map((t) => ({ expr: t.expr, coef: t.coef / vb })));
      return rest.length === 0 ? whole : add(whole, div(sumOf(rest), b));
    }
  }
  return binary("/", a, b);
}

export function mod(a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  if (!integer(a.type)) return binary("%", a, b, resultType(a, b));
  const [va, vb] = [litValue(a), litValue(b)];
  if (vb === 1 || va === 0) return lit(a.type, 0);
  if (va !== null && vb !== null && vb !== 0) return lit(a.type, wrap(a.type, va % vb));
  if (a.type === "u32" && vb !== null && vb > 1) {
    const inner = definitionOf(a);
    // (x % c1) % c2 is x % c2 where c2 divides c1.
    if (inner.shape.kind === "binary" && inner.shape.op === "%") {
      const c1 = litValue(inner.shape.b);
      if (c1 !== null && c1 % vb === 0) return mod(inner.shape.a, b);
    }
    const { multiples, rest } = splitByMultiple(inner, vb);
    if (multiples.length > 0) return rest.length === 0 ? u32(0) : mod(sumOf(rest), b);
  }
  return binary("%", a, b);
}

/** One term of a sum: `expr * coef`. */
interface Term {
  expr: Expr;
  coef: number;
}

/** What a `let` binds, so that division and remainder see the sum behind its name. */
function definitionOf(e: Expr): Expr {
  return e.shape.kind === "ref" && e.shape.definition ? e.shape.definition : e;
}

/** A u32 sum as terms, constant factors multiplied out: ((x * 16 + y) * 14 + 3) is x*224 + y*14 + 1*42. */
function linearTerms(e: Expr, coef: number, out: Term[]): Term[] {
  const s = e.shape;
  if (s.kind === "binary" && s.op === "+") {
    linearTerms(s.a, coef, out);
    linearTerms(s.b, coef, out);
    return out;
  }
  if (s.kind === "binary" && s.op === "*") {
    const [ca, cb] = [litValue(s.a), litValue(s.b)];
    if (cb !== null && coef * cb < 2 ** 32) return linearTerms(s.a, coef * cb, out);
    if (ca !== null && coef * ca < 2 ** 32) return linearTerms(s.b, coef * ca, out);
  }
  const v = litValue(e);
  out.push(v !== null ? { expr: u32(1), coef: coef * v } : { expr: e, coef });
  return out;
}

/**
 * The terms of `e` whose coefficient `d` divides, and the rest: (x * c + y) / d is x * (c / d) + y / d
 * and (x * c + y) % d is y % d when d divides c. Exact because index arithmetic never wraps: every
 * index is below the 2^32 elements a binding can hold.
 */
function splitByMultiple(e: Expr, d: number): { multiples: Term[]; rest: Term[] } {
  const terms = linearTerms(e, 1, []);
  return { multiples: terms.filter((t) => t.coef % d === 0), rest: terms.filter((t) => t.coef % d !== 0) };
}

function sumOf(terms: readonly Term[]): Expr {
  return terms.map((t) => mul(t.expr, u32(t.coef))).reduce((acc, t) => add(acc, t), u32(0));
}

function fold2(fn: "min" | "max", a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  const [va, vb] = [litValue(a), litValue(b)];
  if (integer(a.type) && va !== null && vb !== null) return lit(a.type, fn === "min" ? Math.min(va, vb) : Math.max(va, vb));
  if (!a.mutable && a.text === b.text) return a;
  return call(fn, [a, b], resultType(a, b));
}

export const min = (a: Expr, b: Expr): Expr => fold2("min", a, b);
export const max = (a: Expr, b: Expr): Expr => fold2("max", a, b);

// ---- everything else ----

export const neg = (x: Expr): Expr => new Expr(x.type, { kind: "neg", arg: x }, x.mutable);

export function compare(op: CompareOp, a: Expr, b: Expr): Expr {
  sameOperands(a, b);
  return binary(op, a, b, a.type === "vec4f" || b.type === "vec4f" ? "vec4f" : "bool");
}

export const lt = (a: Expr, b: Expr): Expr => compare("<", a, b);
export const ge = (a: Expr, b: Expr): Expr => compare(">=", a, b);

export function and(...terms: Expr[]): Expr {
  return terms.reduce((acc, t) => binary("&&", acc, t, "bool"));
}

/** A builtin or helper function's result. */
export function call(fn: string, args: readonly Expr[], type: ExprType): Expr {
  return new Expr(
    type,
    { kind: "call", fn, args },
    args.some((a) => a.mutable),
  );
}

/** WGSL's `select(f, t, cond)`. */
export function select(whenFalse: Expr, whenTrue: Expr, cond: Expr): Expr {
  return call("select", [whenFalse, whenTrue, cond], resultType(whenFalse, whenTrue));
}

export function convert(type: ExprType, x: Expr): Expr {
  if (x.type === type) return x;
  const v = litValue(x);
  if (v !== null && type !== "vec4f" && type !== "bool") return lit(type, type === "f32" ? v : wrap(type, v));
  if (v !== null && type === "vec4f") return vec4Of(v);
  return new Expr(type, { kind: "convert", arg: x }, x.mutable);
}

/** Four lanes as one vec4f. */
export function vec4(lanes: readonly Expr[]): Expr {
  return new Expr(
    "vec4f",
    { kind: "vec4", lanes },
    lanes.some((l) => l.mutable),
  );
}

/** One lane of a vec4f. */
export function lane(vec: Expr, index: Expr): Expr {
  return new Expr("f32", { kind: "lane", vec, lane: index }, vec.mutable || index.mutable);
}

/** A scalar or vector function applied to one value, keeping its type. */
export const apply = (fn: string, x: Expr): Expr => call(fn, [x], x.type);
