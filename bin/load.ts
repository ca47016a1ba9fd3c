import { compile, type Compiled, type CompileOptions } from "../api/compile.ts";
import { UsageError } from "../core/errors.ts";
import type { TargetClass } from "../core/plan.ts";
import type { TargetChoice } from "../runtime/gpu-context.ts";
import { intFlag, one, overrides, type ParsedArgs } from "./args.ts";
import { io } from "./io.ts";

export const MODEL_FLAGS = ["weights", "preset", "set", "seed"];

/** The CLI's warnings: one line each on stderr. */
export const warn = (message: string): void => void io().err.write(`tesserae: ${message}\n`);

/** The model flags as the library's compile options. */
export function compileOptions(args: ParsedArgs, extra: Pick<CompileOptions, "dtype" | "fuse"> = {}): CompileOptions {
  return { weights: one(args, "weights"), preset: one(args, "preset"), config: overrides(args), ...extra };
}

/** A graph file bound to its config (--weights' config.json, --preset, then --set), its warnings printed. */
export function compileFromArgs(graphPath: string, args: ParsedArgs, extra: Pick<CompileOptions, "dtype" | "fuse"> = {}): Compiled {
  const compiled = compile(graphPath, compileOptions(args, extra));
  for (const d of compiled.diagnostics) warn(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`);
  return compiled;
}

export const seedOf = (args: ParsedArgs): number => intFlag(args, "seed", 0);

export function dtypeFlag(args: ParsedArgs): "f32" | "f16" {
  const dtype = one(args, "dtype") ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") throw new UsageError(`--dtype must be f32 or f16, got '${dtype}'`);
  return dtype;
}

export function requireGraph(args: ParsedArgs, command: string): string {
  if (args.positional.length !== 1) throw new UsageError(`usage: tesserae ${command} <graph.tsr> [options]`);
  return args.positional[0];
}

/** --target cpu|gpu|auto, else TESSERAE_TARGET, else auto (the adapter's own class). */
export function targetFlag(args: ParsedArgs): TargetChoice {
  const flag = one(args, "target");
  return flag !== undefined ? targetChoice(flag, "--target") : targetChoice(process.env.TESSERAE_TARGET, "TESSERAE_TARGET");
}

/** A target class as given (a flag's or a variable's value, named by `where`); unset or empty means auto. */
export function targetChoice(value: string | undefined, where: string): TargetChoice {
  if (value === undefined || value === "" || value === "auto") return "auto";
  if (value === "cpu" || value === "gpu") return value;
  throw new UsageError(`${where} must be cpu, gpu or auto, got '${value}'`);
}

/** A forced class, or undefined for `auto`. */
export const classOf = (choice: TargetChoice): TargetClass | undefined => (choice === "auto" ? undefined : choice);
