import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import ts from "typescript";

/** Every relative import (static, dynamic, type-only and re-exports) of the .ts files below `folders`, as paths from `root`. */
export function importGraph(root: string, folders: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const path = join(dir, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
        const info = ts.preProcessFile(readFileSync(join(root, path), "utf8"), true, true);
        graph.set(
          path,
          info.importedFiles
            .map((f) => f.fileName)
            .filter((s) => s.startsWith("."))
            .map((s) => normalize(join(dirname(path), s))),
        );
      }
    }
  };
  for (const f of folders) walk(f);
  return graph;
}

/** The import cycles (strongly connected components of more than one file, or a file importing itself), each sorted. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Imports from files under `from` into files under any of `forbidden`, as "file -> import". */
export function crossings(graph: ReadonlyMap<string, readonly string[]>, from: string, forbidden: readonly string[]): string[] {
  const under = (path: string, folder: string): boolean => !relative(folder, path).startsWith("..");
  return [...graph].flatMap(([file, imports]) =>
    under(file, from) ? imports.filter((i) => forbidden.some((f) => under(i, f))).map((i) => `${file} -> ${i}`) : [],
  );
}
