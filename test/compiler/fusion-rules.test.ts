import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { explainPlan } from "../../compiler/explain/report.ts";
import { formatText } from "../../compiler/explain/text.ts";
import { fusionClass } from "../../compiler/fusion/classes.ts";
import { JOIN_RULES, MERGE_RULES } from "../../compiler/fusion/rules.ts";
import { compileFile } from "../../compiler/frontend.ts";
import type { Plan } from "../../core/plan.ts";
import { compileOk } from "../helpers/compile.ts";

const used = new Set<string>();

function compiled(source: string, fuse = true): Plan {
  const plan = compileGraph(compileOk(source).graph, { fuse });
  for (const f of plan.fusion ?? []) for (const j of f.joined) used.add(j.rule);
  return plan;
}

const model = (body: string, inputs = "  input x: f32[B, 9, 12]"): string => `model m {\n${inputs}\n${body}\n}`;

/** Each kernel as `kind <- apart` and its members as `op:rule`. */
function decisions(plan: Plan): { kind: string; apart: string; joined: string[] }[] {
  return plan.kernels.map((k, i) => {
    const f = plan.fusion?.[i];
    if (!f) throw new Error("a compiled plan records its fusion decisions");
    const op = (id: number): string => {
      const o = plan.graph.nodes[id].op;
      return o.kind === "unary" || o.kind === "binary" ? o.fn : o.kind;
    };
    return { kind: k.kind, apart: f.apart, joined: f.joined.map((j) => `${op(j.node)}:${j.rule}`) };
  });
}

describe("fusion rules as data", () => {
  it("every op kind has a fusion class, and rule names are unique", () => {
    const names = [...JOIN_RULES, ...MERGE_RULES].map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    const g = compileOk(model(`  output y = resize2d(x, 4, 6) + 1`)).graph;
    expect(g.nodes.map(fusionClass)).toEqual(["buffer", "opaque", "constant", "elementwise"]);
  });

  it("a linear layer's members each name the rule that joined them; the output says why it is written", () => {
    expect(decisions(compiled(model(`  output y = quick_gelu(linear(x, "fc", 20))`)))).toEqual([
      {
        kind: "matmul",
        apart: "a graph output",
        joined: ["permute:view-on-load", "matmul:contraction-core", "add:elementwise", "mul:elementwise", "sigmoid:elementwise"],
      },
    ]);
  });

  it("a value read by two kernels is written, and says so", () => {
    const [first] = decisions(compiled(model(`  h = linear(x, "a", 12)\n  output y = linear(h, "b", 12) + linear(h, "c", 12)`)));
    expect(first.apart).toBe("read by 2 kernels");
  });

  it("a rotary embedding of k stays apart, naming the rules that were tried; on q it joins on load", () => {
    const plan = compiled(
      model(
        "  output y = attention(rotary(x, cos, sin, 3), rotary(x * 2, cos, sin, 3), x, 3)",
        "  input x: f32[B, 9, 12]\n  input cos: f32[9, 4]\n  input sin: f32[9, 4]",
      ),
    );
    const [k, attention] = decisions(plan);
    expect(k.apart).toMatch(
      /^elementwise op feeding an operand of its attention: no rule joins it .*\(math-on-query-load, row-shift-on-load did not apply\)$/,
    );
    expect(attention.joined).toEqual(expect.arrayContaining(["neg:math-on-query-load", "concat:view-on-load"]));
  });

  it("a LayerNorm before a linear: the shift on load, statistics in the main loop", () => {
    const [k] = decisions(compiled(model(`  output y = linear(layernorm(x, "ln"), "fc", 20)`)));
    expect(k.joined).toEqual(expect.arrayContaining(["sub:row-shift-on-load", "reduce:row-statistic", "matmul:contraction-core"]));
  });

  it("a normalisation of merged rows joins the matmul whole (normalization-prologue)", () => {
    const plan = compiled(model(`  output y = gelu(linear(reshape(layernorm(x, "ln"), [4, 24]), "fc", 8))`, "  input x: f32[1, 16, 6]"));
    const [k] = decisions(plan);
    expect(plan.kernels).toHaveLength(1);
    expect(k.joined).toEqual(expect.arrayContaining(["add:normalization-prologue", "reduce:row-reduction"]));
  });

  it("a contraction under a class-token concat is inlined; layernorm's reductions share a row kernel", () => {
    const plan = compiled(
      model(`  output y = layernorm(concat([param("cls", [1, 1, 8]), linear(x, "patch", 8)], 1), "ln")`, "  input x: f32[1, 9, 12]"),
    );
    expect(decisions(plan).flatMap((d) => d.joined)).toEqual(expect.arrayContaining(["matmul:inline-contraction", "reduce:row-reduction"]));
  });

  it("a class token and position table join the patch embedding's epilogue (prefix-rows-epilogue)", () => {
    const embed = `concat([broadcast_to(param("cls", [1, 1, 8]), [2, 1, 8]), linear(x, "patch", 8)], 1) + param("pos", [10, 8])`;
    const input = "  input x: f32[2, 9, 80]";
    const [k] = decisions(compiled(model(`  output y = ${embed}`, input)));
    expect(k.kind).toBe("matmul");
    expect(k.joined).toEqual(expect.arrayContaining(["matmul:prefix-rows-epilogue", "concat:view", "add:elementwise"]));
    // Before a LayerNorm the embedding is written for the row kernel, which keeps only the normalisation.
    const [embedding, norm] = decisions(compiled(model(`  output y = layernorm(${embed}, "ln")`, input)));
    expect(embedding.apart).toMatch(/^the embedding prefix-rows-epilogue joined to a matmul, read by the row kernel of %\d+$/);
    expect(norm.kind).toBe("row");
    expect(norm.joined.some((j) => j.startsWith("concat"))).toBe(false);
  });

  it("an unfused compile says so for every kernel", () => {
    expect(new Set(decisions(compiled(model(`  output y = layernorm(x, "ln")`), false)).map((d) => d.apart))).toEqual(
      new Set(["unfused compile"]),
    );
  });

  it("every seed graph records one decision per kernel member", () => {
    for (const file of readdirSync("graphs").filter((f) => f.endsWith(".tsr"))) {
      const program = compileFile(`graphs/${file}`, { overrides: file.startsWith("qwen2") ? { depth: "1" } : {} });
      const plan = compileGraph(program.graph);
      plan.kernels.forEach((k, i) => {
        const f = plan.fusion?.[i];
        expect(f?.apart, `${file} ${k.name}`).not.toBe("");
        expect(f?.joined.map((j) => j.node).sort((a, b) => a - b)).toEqual(k.nodes.filter((n) => n !== k.write));
        for (const j of f?.joined ?? []) used.add(j.rule);
      });
    }
  });

  it("explain --why prints the reason under each kernel and its members by rule", () => {
    const plan = compiled(model(`  output y = quick_gelu(linear(x, "fc", 20))`));
    const text = formatText(explainPlan(plan, "m.tsr", { B: 1 }, true), true);
    expect(text).toMatch(
      /written: %\d+ mul, a graph output\n\s+joined by view-on-load: %\d+ permute; contraction-core: %\d+ matmul; elementwise: /,
    );
  });

  afterAll(() => {
    // Every rule is exercised by these tests: a rule no graph reaches is dead code or an untested one.
    expect([...JOIN_RULES, ...MERGE_RULES].map((r) => r.name).filter((n) => !used.has(n))).toEqual([]);
  });
});

describe("docs/FUSION.md", () => {
  it("lists every rule with its summary, in order", () => {
    const doc = readFileSync("docs/FUSION.md", "utf8");
    const listed = [...doc.matchAll(/^\| `([a-z-]+)` \|(?:.*\|)? ([^|]+) \|$/gm)].map((m) => `${m[1]}: ${m[2]}`);
    expect(listed).toEqual([...JOIN_RULES, ...MERGE_RULES].map((r) => `${r.name}: ${r.summary}`));
  });
});
