import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ModelDecl, SourceFile } from "../dsl/ast.ts";
import { DiagnosticError, type Diagnostic } from "../dsl/diagnostics.ts";
import { parseSource } from "../dsl/parse.ts";
import { UsageError } from "../core/errors.ts";
import type { Program } from "../core/program.ts";
import { elaborate, type ElaborateOptions } from "./elaborate/elaborate.ts";

const PRELUDE_PATH = fileURLToPath(new URL("../dsl/prelude.tsr", import.meta.url));
const PRELUDE_NAME = "<prelude>";

let prelude: SourceFile | undefined;

function loadPrelude(): SourceFile {
  if (prelude) return prelude;
  const r = parseSource(PRELUDE_NAME, readFileSync(PRELUDE_PATH, "utf8"));
  if (!r.ok) throw new Error(`the bundled prelude does not parse: ${r.diagnostics[0].message}`);
  prelude = r.file;
  return prelude;
}

export function preludeSource(): [string, string] {
  return [PRELUDE_NAME, loadPrelude().text];
}

/** Source text by file name for quoting lines in diagnostics. */
export function sourcesFor(path: string, text: string): Map<string, string> {
  return new Map([[path, text], preludeSource()]);
}

/** Graph-file text to a checked program (graph IR + config + preprocessing) and its warnings; throws DiagnosticError with every problem found. */
export function elaborateSource(
  path: string,
  text: string,
  options: ElaborateOptions = {},
): { program: Program; diagnostics: Diagnostic[] } {
  const sources = sourcesFor(path, text);
  const parsed = parseSource(path, text);
  if (!parsed.ok) throw new DiagnosticError(parsed.diagnostics, sources);
  const models = parsed.file.items.filter((i): i is ModelDecl => i.kind === "model");
  if (models.length !== 1) {
    const d: Diagnostic = {
      severity: "error",
      message: `a graph file must contain exactly one model, found ${models.length}`,
      file: path,
      loc: { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } },
    };
    throw new DiagnosticError([d], sources);
  }
  const r = elaborate(models[0], parsed.file, [loadPrelude()], options);
  if (!r.ok) throw new DiagnosticError(r.diagnostics, sources);
  return { program: r.program, diagnostics: r.diagnostics };
}

export function compileSource(path: string, text: string, options: ElaborateOptions = {}): Program {
  return elaborateSource(path, text, options).program;
}

export function compileFile(path: string, options: ElaborateOptions = {}): Program {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const reason = e instanceof Error && "code" in e && e.code === "ENOENT" ? "no such file" : String(e);
    throw new UsageError(`cannot read graph file ${path}: ${reason}`);
  }
  return compileSource(path, text, options);
}
