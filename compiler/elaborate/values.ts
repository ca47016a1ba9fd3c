import { dimToString, type Dim } from "../../core/dims.ts";
import type { PlainValue } from "../../core/program.ts";

/** What a DSL expression evaluates to during elaboration. */
export type Value =
  | { t: "tensor"; id: number }
  | { t: "int"; v: Dim }
  | { t: "float"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "string"; v: string }
  | { t: "list"; items: Value[] }
  | { t: "none" }
  /** Poison: an error was already reported for this value, so uses of it stay silent. */
  | { t: "error" };

export const ERROR: Value = { t: "error" };
export const NONE: Value = { t: "none" };

export function describe(v: Value): string {
  switch (v.t) {
    case "tensor":
      return "a tensor";
    case "int":
      return `int ${dimToString(v.v)}`;
    case "float":
      return `float ${v.v}`;
    case "bool":
      return `bool ${v.v}`;
    case "string":
      return `string "${v.v}"`;
    case "list":
      return `a list of ${v.items.length}`;
    case "none":
      return "none";
    case "error":
      return "an erroneous value";
  }
}

/** Plain JSON-like view of a config value, for printing and for the runtime. */

export function toPlain(v: Value): PlainValue {
  switch (v.t) {
    case "int":
      return typeof v.v === "number" ? v.v : dimToString(v.v);
    case "float":
    case "bool":
    case "string":
      return v.v;
    case "list":
      return v.items.map(toPlain);
    default:
      return null;
  }
}

export function fromPlain(p: unknown): Value | undefined {
  if (typeof p === "number") return Number.isInteger(p) ? { t: "int", v: p } : { t: "float", v: p };
  if (typeof p === "string") return { t: "string", v: p };
  if (typeof p === "boolean") return { t: "bool", v: p };
  if (p === null) return NONE;
  if (Array.isArray(p)) {
    const items = p.map(fromPlain);
    return items.every((i): i is Value => i !== undefined) ? { t: "list", items } : undefined;
  }
  return undefined;
}
