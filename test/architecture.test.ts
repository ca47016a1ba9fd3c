// The shape of the codebase: data flows one way (dsl -> compiler -> runtime, all over core/), the runtime
// stands alone so a compiled model needs nothing else, and no module imports itself through others.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { crossings, importCycles, importGraph } from "./helpers/imports.ts";

const ROOT = resolve(import.meta.dirname, "..");
const SOURCES = ["api", "bin", "core", "dsl", "compiler", "runtime", "tune"];
const graph = importGraph(ROOT, SOURCES);

describe("import boundaries", () => {
  it("core/ (plan format, symbolic dims, graph IR types, cost model, errors) imports only core/", () => {
    expect(
      crossings(
        graph,
        "core",
        SOURCES.filter((s) => s !== "core"),
      ),
    ).toEqual([]);
  });

  it("runtime/ imports neither compiler/ nor dsl/ (nor the API, the CLI or the tuner)", () => {
    expect(crossings(graph, "runtime", ["compiler", "dsl", "api", "bin", "tune"])).toEqual([]);
  });

  it("dsl/ and compiler/ do not reach into the runtime, the API or the CLI", () => {
    expect(crossings(graph, "dsl", ["compiler", "runtime", "api", "bin", "tune"])).toEqual([]);
    expect(crossings(graph, "compiler", ["runtime", "api", "bin", "tune"])).toEqual([]);
  });

  it("no import cycles", () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it("the checks see what they look for: a crossing and a cycle in a made-up graph", () => {
    const made = new Map([
      ["runtime/a.ts", ["compiler/b.ts"]],
      ["compiler/b.ts", ["compiler/c.ts"]],
      ["compiler/c.ts", ["compiler/b.ts"]],
      ["core/d.ts", []],
    ]);
    expect(crossings(made, "runtime", ["compiler"])).toEqual(["runtime/a.ts -> compiler/b.ts"]);
    expect(importCycles(made)).toEqual([["compiler/b.ts", "compiler/c.ts"]]);
    expect(graph.get("runtime/model.ts")).toContain("core/program.ts");
  });
});
