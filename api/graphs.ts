import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UsageError } from "../core/errors.ts";

// The graph files the package ships: graphs/ beside api/ in a checkout and in dist/ alike.
const GRAPHS_DIR = fileURLToPath(new URL("../graphs/", import.meta.url));

/** A graph to compile: a file path, a bundled graph's name (`"qwen2-vl"`), or graph source text. */
export type GraphSpec = string | { source: string; path?: string };

/** The names of the bundled graphs (`graphs/*.tsr` in the package). */
export function bundledGraphs(): string[] {
  return readdirSync(GRAPHS_DIR)
    .filter((f) => f.endsWith(".tsr"))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** Where a bundled graph's file is. */
export function bundledGraphPath(name: string): string {
  const path = `${GRAPHS_DIR}${name}.tsr`;
  if (!/^[\w.-]+$/.test(name) || !existsSync(path))
    throw new UsageError(`no bundled graph '${name}' (bundled: ${bundledGraphs().join(", ")})`);
  return path;
}

/** The bundled graph a spec names, if it names one rather than a file here. */
function bundledName(spec: string): string | null {
  // A folder is never a graph: `vit` beside a compiled `vit/` is still the bundled ViT.
  if (existsSync(spec) && statSync(spec).isFile()) return null;
  // A bare name can only be a bundled graph: an unknown one is an error that lists them.
  if (/^[\w.-]+$/.test(spec) && !spec.endsWith(".tsr")) return spec;
  // `graphs/NAME.tsr`, as a checkout and the README name them.
  const m = /^(?:\.\/)?graphs\/([\w.-]+)\.tsr$/.exec(spec);
  return m && bundledGraphs().includes(m[1]) ? m[1] : null;
}

/**
 * The text of a graph and the name its diagnostics use. A string with a newline or a `{` is source
 * text; a bare name (no slash, no extension) is a bundled graph, and so is `graphs/NAME.tsr` where no
 * such file exists; anything else is a file path.
 */
export function readGraph(spec: GraphSpec): { path: string; text: string } {
  if (typeof spec === "object" && spec !== null && typeof spec.source === "string")
    return { path: spec.path ?? "<source>", text: spec.source };
  if (typeof spec !== "string") throw new UsageError("a graph is a file path, a bundled graph's name, or { source: text }");
  if (/[\n{]/.test(spec)) return { path: "<source>", text: spec };
  const name = bundledName(spec);
  const path = name === null ? spec : bundledGraphPath(name);
  try {
    return { path: name === null ? path : `graphs/${name}.tsr`, text: readFileSync(path, "utf8") };
  } catch (e) {
    const code = e instanceof Error && "code" in e ? e.code : undefined;
    throw new UsageError(
      `cannot read graph file ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : String(e)}`,
    );
  }
}
