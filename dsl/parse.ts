import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Parser } from "peggy";
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
/** The package build writes the generated parser beside this file (scripts/build.mjs). */
const builtParserPath = fileURLToPath(new URL("./grammar.cjs", import.meta.url));
let parser: Parser | undefined;

// Every process that compiles a graph (every CLI command) needs the parser: generating it takes 0.19 s and
// loading peggy itself 34 ms, both skipped where the build generated it. A checkout generates it once per process.
function getParser(): Parser {
  const require = createRequire(import.meta.url);
  parser ??= existsSync(builtParserPath)
    ? (require(builtParserPath) as Parser)
    : (require("peggy") as typeof import("peggy")).generate(readFileSync(grammarPath, "utf8"), { output: "parser" });
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
