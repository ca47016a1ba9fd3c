import { compileSource } from "../../compiler/frontend.ts";
import type { Program } from "../../core/program.ts";
import { DiagnosticError } from "../../dsl/diagnostics.ts";
import type { ElaborateOptions } from "../../compiler/elaborate/elaborate.ts";

/** Compiles graph-file text; on failure returns the formatted diagnostics instead of throwing. */
export function tryCompile(text: string, options: ElaborateOptions = {}, path = "test.tsr"): { program?: Program; errors?: string } {
  try {
    return { program: compileSource(path, text, options) };
  } catch (e) {
    if (e instanceof DiagnosticError) return { errors: e.message };
    throw e;
  }
}

export function compileOk(text: string, options: ElaborateOptions = {}): Program {
  const r = tryCompile(text, options);
  if (!r.program) throw new Error(`expected the graph to compile, got:\n${r.errors}`);
  return r.program;
}
