import { UsageError } from "../core/errors.ts";

export interface FlagSpec {
  /** Flags that take a value; repeatable ones collect every value. */
  values: string[];
  repeatable?: string[];
  /** Flags without a value. */
  switches?: string[];
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string[]>;
  switches: Set<string>;
}

export function parseArgs(argv: readonly string[], spec: FlagSpec, command: string): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: new Map(), switches: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (spec.switches?.includes(name)) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      out.switches.add(name);
      continue;
    }
    if (!spec.values.includes(name)) {
      const known = [...spec.values, ...(spec.switches ?? [])].map((f) => `--${f}`).join(", ");
      throw new UsageError(`${command}: unknown option --${name} (options: ${known})`);
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    const list = out.values.get(name) ?? [];
    if (list.length > 0 && !spec.repeatable?.includes(name)) throw new UsageError(`--${name} is given more than once`);
    list.push(value);
    out.values.set(name, list);
  }
  return out;
}

export function one(args: ParsedArgs, name: string): string | undefined {
  return args.values.get(name)?.[0];
}

/** `--set key=value` pairs. */
export function overrides(args: ParsedArgs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of args.values.get("set") ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set expects key=value, got '${kv}'`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export function intFlag(args: ParsedArgs, name: string, fallback: number): number {
  const v = one(args, name);
  if (v === undefined) return fallback;
  if (!/^-?[0-9]+$/.test(v)) throw new UsageError(`--${name} expects an integer, got '${v}'`);
  return Number(v);
}
