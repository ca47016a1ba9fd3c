import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import peggy from "peggy";
import type { BlockDecl, ModelDecl, SourceFile } from "./ast.ts";
import type { Diagnostic } from "./diagnostics.ts";

interface PeggyLocation {
  start: { offset: number; line: number; column: number };
  end: { offset: number; line: number; column: number };
}
interface PeggySyntaxError {
  message: string;
  location: PeggyLocation;
  expected?: unknown;
  found?: string | null;
}
interface RawFile {
  items: (Omit<ModelDecl, never> | Omit<BlockDecl, "file">)[];
}

const grammarPath = fileURLToPath(new URL("./grammar.peggy", import.meta.url));
let parser: peggy.Parser | undefined;

function getParser(): peggy.Parser {
  parser ??= peggy.generate(readFileSync(grammarPath, "utf8"), { output: "parser" });
  return parser;
}

function isSyntaxError(e: unknown): e is PeggySyntaxError {
  return typeof e === "object" && e !== null && "location" in e && "message" in e;
}

function tagBlocks<T>(node: T, file: string): T {
  if (Array.isArray(node)) {
    for (const n of node) tagBlocks(n, file);
  } else if (typeof node === "object" && node !== null) {
    const rec = node as Record<string, unknown>;
    if (rec.kind === "block") rec.file = file;
    if (rec.kind === "model" || rec.kind === "file") tagBlocks(rec.items, file);
  }
  return node;
}

export type ParseResult = { ok: true; file: SourceFile } | { ok: false; diagnostics: Diagnostic[] };

export function parseSource(path: string, text: string): ParseResult {
  try {
    const raw = getParser().parse(text) as RawFile;
    return { ok: true, file: tagBlocks({ kind: "file", path, text, items: raw.items } as SourceFile, path) };
  } catch (e) {
    if (!isSyntaxError(e)) throw e;
    const message = e.message.replace(/^Expected /, "expected ");
    return { ok: false, diagnostics: [{ severity: "error", message: `syntax error: ${message}`, file: path, loc: e.location }] };
  }
}
