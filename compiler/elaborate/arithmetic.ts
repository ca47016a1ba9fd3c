import type { BinaryOp } from "../../dsl/ast.ts";
import { ShapeError, type GraphBuilder } from "../ir/builder.ts";
import { dimAdd, dimFloorDiv, dimMod, dimMul, dimsEqual, dimSub, type Dim } from "../../core/dims.ts";
import type { BinaryFn } from "../../core/graph.ts";
import { ERROR, describe, type Value } from "./values.ts";

const TENSOR_FNS: Partial<Record<BinaryOp, BinaryFn>> = { "+": "add", "-": "sub", "*": "mul", "/": "div" };

function asTensor(b: GraphBuilder, v: Value): number | null {
  if (v.t === "tensor") return v.id;
  if (v.t === "float") return b.constant(v.v);
  if (v.t === "int" && typeof v.v === "number") return b.constant(v.v);
  return null;
}

function numberOf(v: Value): number | null {
  if (v.t === "float") return v.v;
  if (v.t === "int" && typeof v.v === "number") return v.v;
  return null;
}

function compare(op: BinaryOp, a: Value, b: Value): Value | null {
  if (op === "==" || op === "!=") {
    let eq: boolean | null = null;
    if (a.t === "int" && b.t === "int") eq = dimsEqual(a.v, b.v);
    else if (a.t === "string" && b.t === "string") eq = a.v === b.v;
    else if (a.t === "bool" && b.t === "bool") eq = a.v === b.v;
    else if (numberOf(a) !== null && numberOf(b) !== null) eq = numberOf(a) === numberOf(b);
    if (eq === null) return null;
    return { t: "bool", v: op === "==" ? eq : !eq };
  }
  const x = numberOf(a);
  const y = numberOf(b);
  if (x === null || y === null) return null;
  const r = op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
  return { t: "bool", v: r };
}

function intOp(op: BinaryOp, a: Dim, b: Dim): Value | null {
  if ((op === "/" || op === "%") && b === 0) throw new ShapeError(`integer ${op === "/" ? "division" : "modulo"} by zero`);
  switch (op) {
    case "+":
      return { t: "int", v: dimAdd(a, b) };
    case "-":
      return { t: "int", v: dimSub(a, b) };
    case "*":
      return { t: "int", v: dimMul(a, b) };
    // Ints divide to ints, rounding down, as shape arithmetic needs (a 384 px image has 27 patches of 14).
    case "/":
      return { t: "int", v: dimFloorDiv(a, b) };
    case "%":
      return { t: "int", v: dimMod(a, b) };
    default:
      return null;
  }
}

/** Binary operators on ints (symbolic dims), floats, strings and tensors (elementwise, broadcasting). */
export function applyBinary(b: GraphBuilder, op: BinaryOp, x: Value, y: Value): Value {
  if (x.t === "error" || y.t === "error") return ERROR;
  const r = applyBinaryUnchecked(b, op, x, y);
  if (r.t === "float" && !Number.isFinite(r.v)) throw new ShapeError(`'${op}' of ${describe(x)} and ${describe(y)} is not a finite number`);
  if (r.t === "int" && typeof r.v === "number" && !Number.isFinite(r.v))
    throw new ShapeError(`'${op}' of ${describe(x)} and ${describe(y)} is not a finite integer`);
  return r;
}

function applyBinaryUnchecked(b: GraphBuilder, op: BinaryOp, x: Value, y: Value): Value {
  if (["==", "!=", "<", "<=", ">", ">="].includes(op)) {
    const r = compare(op, x, y);
    if (r) return r;
    throw new ShapeError(`cannot compare ${describe(x)} with ${describe(y)} using '${op}'`);
  }
  if (x.t === "tensor" || y.t === "tensor") {
    const fn = TENSOR_FNS[op];
    const tx = asTensor(b, x);
    const ty = asTensor(b, y);
    if (!fn || tx === null || ty === null) throw new ShapeError(`operator '${op}' is not defined for ${describe(x)} and ${describe(y)}`);
    return { t: "tensor", id: b.binary(fn, tx, ty) };
  }
  if (x.t === "int" && y.t === "int") {
    const r = intOp(op, x.v, y.v);
    if (r) return r;
  }
  if (x.t === "string" && y.t === "string" && op === "+") return { t: "string", v: x.v + y.v };
  const nx = numberOf(x);
  const ny = numberOf(y);
  if (nx !== null && ny !== null) {
    switch (op) {
      case "+":
        return { t: "float", v: nx + ny };
      case "-":
        return { t: "float", v: nx - ny };
      case "*":
        return { t: "float", v: nx * ny };
      case "/":
        return { t: "float", v: nx / ny };
      default:
        break;
    }
  }
  throw new ShapeError(`operator '${op}' is not defined for ${describe(x)} and ${describe(y)}`);
}

export function applyUnaryMinus(b: GraphBuilder, v: Value): Value {
  switch (v.t) {
    case "error":
      return ERROR;
    case "tensor":
      return { t: "tensor", id: b.unary("neg", v.id) };
    case "int":
      return { t: "int", v: dimMul(v.v, -1) };
    case "float":
      return { t: "float", v: -v.v };
    default:
      throw new ShapeError(`cannot negate ${describe(v)}`);
  }
}
