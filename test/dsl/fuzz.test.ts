import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { compileSource } from "../../compiler/frontend.ts";
import { DiagnosticError } from "../../dsl/diagnostics.ts";
import { rng } from "../../runtime/weights/random.ts";
import { reliable } from "../helpers/reliability.ts";

// Mutations of real graph files: every outcome must be a compiled graph or diagnostics with a
// location, never another exception. Seeded, so a failure reproduces; bounded in count and time.
// Every graph file; and the prelude, pasted in front of a graph (a graph file's own blocks take the
// place of the prelude's), so mutations of the prelude's blocks are compiled as well.
const GRAPHS = readdirSync("graphs")
  .filter((f) => f.endsWith(".tsr"))
  .sort()
  .map((f) => `graphs/${f}`);
// One layer in every tower (layers, text_layers, depth, sam_depth, ...): more would repeat the same code.
const oneLayer = (text: string): Record<string, string> =>
  Object.fromEntries([...text.matchAll(/^\s*(\w*(?:layers|depth)): int/gm)].map((m) => [m[1], "1"]));
const SOURCES = [
  ...GRAPHS.map((path) => ({ path, text: readFileSync(path, "utf8") })),
  ...["graphs/clip.tsr", "graphs/qwen2-vl.tsr"].map((path) => ({
    path: `prelude+${path}`,
    text: `${readFileSync("dsl/prelude.tsr", "utf8")}\n${readFileSync(path, "utf8")}`,
  })),
].map((s) => ({ ...s, oneLayer: oneLayer(s.text) }));
const TOKENS = [
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  ",",
  "=",
  "+",
  "-",
  "*",
  "/",
  "0",
  "1",
  "-1",
  "1e-5",
  "x",
  "i",
  '"',
  '"{i}"',
  "repeat 3 as j {",
  "return x",
  "output z = ",
  'param("w", [3])',
  "none",
  "true",
  "dim(x, 9)",
  "reshape(x, [2])",
  "layernorm(x, 5)",
  "concat([x, x], 7)",
  "attention(x, x, x, 0)",
  "slice(x, 1, 5, 2)",
  "permute(x, [0, 0])",
  "//",
  "/*",
  "\n",
];

function mutate(text: string, rand: () => number): string {
  let t = text;
  const edits = 1 + Math.floor(rand() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * t.length);
    const kind = rand();
    if (kind < 0.35) t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rand() * 8));
    else if (kind < 0.75) t = t.slice(0, at) + TOKENS[Math.floor(rand() * TOKENS.length)] + t.slice(at);
    else {
      // Replace a number with another one, an edit that keeps the syntax but changes shapes.
      const numbers = [...t.matchAll(/\b\d+\b/g)];
      if (numbers.length === 0) continue;
      const m = numbers[Math.floor(rand() * numbers.length)];
      const replacement = String([0, 1, 2, 3, 7, 13, 100000][Math.floor(rand() * 7)]);
      t = t.slice(0, m.index) + replacement + t.slice((m.index ?? 0) + m[0].length);
    }
  }
  return t;
}

describe("fuzzing the graph language", () => {
  it("mutated graph files give diagnostics with a location or compile, never another error", () => {
    const rand = rng(2026);
    const outcomes = { compiled: 0, diagnostics: 0 };
    let cases = 0;
    // A fixed count, not a time budget: the test files share the machine's cores, and a slower turn must not test less.
    while (cases < 3000) {
      const src = SOURCES[cases % SOURCES.length];
      const text = mutate(src.text, rand);
      cases++;
      try {
        const program = compileSource(src.path, text, { overrides: src.oneLayer });
        compileGraph(program.graph);
        outcomes.compiled++;
      } catch (e) {
        if (!(e instanceof DiagnosticError)) throw new Error(`case ${cases}: ${String(e)}\n--- source ---\n${text}`);
        for (const d of e.diagnostics) {
          expect(d.loc.start.line).toBeGreaterThan(0);
          expect(d.loc.start.column).toBeGreaterThan(0);
        }
        expect(e.message).toMatch(/:\d+:\d+: error: /);
        outcomes.diagnostics++;
      }
    }
    process.stdout.write(`fuzz: ${cases} cases, ${outcomes.compiled} compiled, ${outcomes.diagnostics} with diagnostics\n`);
    expect(outcomes.diagnostics).toBeGreaterThan(0);
    expect(outcomes.compiled).toBeGreaterThan(0);
    reliable({
      area: "graph files",
      case: `seeded mutations of the ${GRAPHS.length} graph files and of the prelude (deleted, duplicated and swapped tokens, random characters)`,
      tried: cases,
      outcome: `${outcomes.compiled} compiled; ${outcomes.diagnostics} gave diagnostics with file:line:col; no other error, hang or crash`,
    });
  }, 120_000);
});
