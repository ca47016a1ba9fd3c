import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatDiagnostics } from "../../dsl/diagnostics.ts";
import { parseSource } from "../../dsl/parse.ts";

function syntaxError(text: string): string {
  const r = parseSource("bad.tsr", text);
  if (r.ok) throw new Error("expected a syntax error");
  return formatDiagnostics(r.diagnostics, new Map([["bad.tsr", text]]));
}

describe("grammar", () => {
  it.each(readdirSync("graphs").filter((f) => f.endsWith(".tsr")))("parses graphs/%s", (f) => {
    const r = parseSource(f, readFileSync(`graphs/${f}`, "utf8"));
    expect(r.ok).toBe(true);
  });

  it("parses the prelude", () => {
    expect(parseSource("<prelude>", readFileSync("dsl/prelude.tsr", "utf8")).ok).toBe(true);
  });

  it("builds an AST with spans, config sources, presets, repeat and string interpolation", () => {
    const text = `model m {
  config { width: int = 8 from "vision_config.hidden_size", "hidden_size" }
  preset big { width = 16 }
  input x: f32[B, width]
  repeat 2 as i { y = linear(x, "layers.{i}.fc", width) }
  output y = y
}`;
    const r = parseSource("m.tsr", text);
    if (!r.ok) throw new Error("parse failed");
    const model = r.file.items[0];
    expect(model.kind).toBe("model");
    if (model.kind !== "model") return;
    const config = model.items.find((i) => i.kind === "config");
    expect(config).toMatchObject({ entries: [{ name: "width", type: "int", from: ["vision_config.hidden_size", "hidden_size"] }] });
    const rep = model.items.find((i) => i.kind === "repeat");
    expect(rep).toMatchObject({ kind: "repeat", name: "i", loc: { start: { line: 5, column: 3 } } });
  });

  it("reads \\n and \\t in strings as a newline and a tab, any other escaped character as itself", () => {
    const r = parseSource("m.tsr", 'model m { x = "a\\nb\\tc\\"d\\\\e" }');
    if (!r.ok) throw new Error("parse failed");
    expect(r.file.items[0]).toMatchObject({ items: [{ kind: "assign", value: { kind: "string", value: 'a\nb\tc"d\\e' } }] });
  });

  it("parses an expression nested 20 deep, compared with another, in one pass over the text", () => {
    // A grammar that tried the comparison and then parsed its left operand again took 2^depth steps:
    // 12 s at this depth (2.3 s at 18), where one pass takes a millisecond.
    const nested = (depth: number): string => (depth === 0 ? "x" : `f(${nested(depth - 1)}) + [${depth}]`);
    const started = performance.now();
    const r = parseSource("m.tsr", `model m { y = ${nested(20)} == (${nested(20)}) }`);
    expect(performance.now() - started).toBeLessThan(1000);
    if (!r.ok) throw new Error("parse failed");
    const assign = r.file.items[0].kind === "model" ? r.file.items[0].items[0] : undefined;
    expect(assign).toMatchObject({ kind: "assign", value: { kind: "binary", op: "==", left: { kind: "binary", op: "+" } } });
    let depth = 0;
    for (let e = assign?.kind === "assign" ? assign.value : undefined; e?.kind === "binary" || e?.kind === "call"; depth++)
      e = e.kind === "binary" ? e.left : e.args[0].value;
    expect(depth).toBe(1 + 2 * 20);
  });

  it("reports a syntax error with file:line:col and a caret", () => {
    expect(syntaxError("model m {\n  config { width: int = }\n}\n")).toMatchInlineSnapshot(`
      "bad.tsr:2:25: error: syntax error: expected "(", "-", "[", "false", "none", "true", identifier, number, or string but "}" found.
         2 |   config { width: int = }
                                     ^
      1 error"
    `);
  });

  it("reports an unclosed block at the end of the file", () => {
    expect(syntaxError("model m {\n  x = 1\n")).toContain("bad.tsr:3:1: error: syntax error");
  });

  it("rejects a keyword used as a name", () => {
    expect(syntaxError("model m { repeat = 3 }")).toContain("bad.tsr:1:");
  });
});
