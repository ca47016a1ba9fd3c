import { TesseraeError } from "../core/errors.ts";
import type { Loc } from "./ast.ts";

export interface Diagnostic {
  severity: "error" | "warning";
  message: string;
  file: string;
  loc: Loc;
}

/** Sources by file name, so a diagnostic can quote the offending line. */
export type SourceMap = ReadonlyMap<string, string>;

export function formatDiagnostic(d: Diagnostic, sources: SourceMap): string {
  const { line, column } = d.loc.start;
  const head = `${d.file}:${line}:${column}: ${d.severity}: ${d.message}`;
  const text = sources.get(d.file);
  if (text === undefined) return head;
  const lineText = text.split("\n")[line - 1] ?? "";
  const width = d.loc.end.line === line ? Math.max(1, d.loc.end.column - column) : Math.max(1, lineText.length - column + 1);
  const gutter = `${String(line).padStart(4)} | `;
  const caret = `${" ".repeat(gutter.length + column - 1)}^${"~".repeat(Math.max(0, width - 1))}`;
  return `${head}\n${gutter}${lineText}\n${caret}`;
}

export function formatDiagnostics(ds: readonly Diagnostic[], sources: SourceMap): string {
  const errors = ds.filter((d) => d.severity === "error").length;
  const body = ds.map((d) => formatDiagnostic(d, sources)).join("\n");
  return errors > 0 ? `${body}\n${errors} error${errors === 1 ? "" : "s"}` : body;
}

/** Thrown only across phase boundaries: carries every diagnostic collected so far. */
export class DiagnosticError extends TesseraeError {
  constructor(
    readonly diagnostics: Diagnostic[],
    readonly sources: SourceMap,
  ) {
    super(formatDiagnostics(diagnostics, sources));
  }
}
