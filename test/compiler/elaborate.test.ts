import { describe, expect, it } from "vitest";
import { compileFile } from "../../compiler/frontend.ts";
import { readFileSync, existsSync } from "node:fs";
import { dimToString } from "../../core/dims.ts";
import { branchInputs } from "../../core/preprocess.ts";
import { compileOk, tryCompile } from "../helpers/compile.ts";
import { reliable } from "../helpers/reliability.ts";

const tiny = (body: string, config = "width: int = 8") => `model m {
  config { ${config} }
  input x: f32[B, 5, width]
${body}
}`;

describe("elaboration", () => {
  it("refuses a repeat count past 4096 at its location, before unrolling it", () => {
    const r = tryCompile(tiny(`  repeat 5000000 as i { x = linear(x, "layers.{i}.fc", width) }\n  output y = x`));
    expect(r.errors).toMatch(/test\.tsr:\d+:\d+: error: repeat count 5000000 is more than 4096/);
    reliable({
      area: "graph files",
      case: "a repeat count of 5,000,000 (a typo that would unroll past memory)",
      tried: 1,
      outcome: "one diagnostic at the count, nothing unrolled",
    });
  });

  it("checks a layout's grid and text pieces where they are written", () => {
    const withLayout = (image: string): string =>
      tiny(`  layout { token("<t>", 1)\n  token("<img>", 2)\n  image(${image}) }\n  output y = x`);
    const ok = compileOk(withLayout('grid(tiles_h, tiles_w, ["<t>", text("<r{row}c{col}>"), span("<img>", 4)], [text("\\n")]), "<t>"'));
    expect(ok.layout?.image[0]).toMatchObject({
      kind: "grid",
      cell: [{ kind: "token" }, { kind: "text", text: "<r{row}c{col}>" }, { kind: "span" }],
    });
    expect(ok.layout?.image[0]).toMatchObject({ rowEnd: [{ kind: "text", text: "\n" }], after: [] });
    expect(tryCompile(withLayout('text("{row}"), span("<img>", 4)')).errors).toMatch(
      /test\.tsr:\d+:\d+: error: layout: text\(\) may name only \{row\} and \{col\}, inside a grid's cell, got \{row\}/,
    );
    expect(tryCompile(withLayout('grid(tiles_h, ["<t>"]), span("<img>", 4)')).errors).toMatch(
      /grid\(\) takes rows, columns, then lists of pieces/,
    );
    expect(tryCompile(withLayout('grid(1, 1, ["<u>", span("<img>", 4)])')).errors).toMatch(/"<u>" is not declared/);
    expect(tryCompile(withLayout('"<t>", text("x")')).errors).toMatch(/image\(\) needs a span\(text, count\)/);
  });

  it("inlines blocks, unrolls repeat and interpolates tensor names", () => {
    const p = compileOk(tiny(`  repeat 3 as i { x = linear(x, "layers.{i}.fc", width) }\n  output y = x`));
    const params = p.graph.nodes.flatMap((n) => (n.op.kind === "param" ? [n.op.name] : []));
    expect(params).toEqual([
      "layers.0.fc.weight",
      "layers.0.fc.bias",
      "layers.1.fc.weight",
      "layers.1.fc.bias",
      "layers.2.fc.weight",
      "layers.2.fc.bias",
    ]);
    expect(p.graph.nodes.filter((n) => n.op.kind === "matmul")).toHaveLength(3);
  });

  it("keeps the batch dimension symbolic", () => {
    const p = compileOk(tiny("  output y = mean(x)"));
    const out = p.graph.nodes[p.graph.outputs[0].node];
    expect(out.shape.map(dimToString)).toEqual(["B", "5", "1"]);
    expect(p.symbols).toEqual(["B"]);
  });

  it("records the source line of each node, through blocks", () => {
    const p = compileOk(tiny(`  y = gelu(x)\n  output y = y`));
    const erf = p.graph.nodes.find((n) => n.op.kind === "unary" && n.op.fn === "erf");
    expect(erf?.source.map((s) => `${s.file}:${s.line}`)).toEqual(["test.tsr:4", expect.stringMatching(/^<prelude>:\d+$/)]);
  });

  it("takes config values from defaults, presets, config.json and --set, in that order", () => {
    const src = `model m {
  config {
    width: int = 8 from "vision_config.hidden_size"
    depth: int = width / 2
    act: string = "gelu" from "hidden_act"
  }
  preset wide { width = 32 }
  input x: f32[B, width]
  output y = x
}`;
    expect(compileOk(src).config).toMatchObject({ width: 8, depth: 4, act: "gelu" });
    expect(compileOk(src, { preset: "wide" }).config).toMatchObject({ width: 32, depth: 16 });
    expect(
      compileOk(src, { preset: "wide", checkpointConfig: { vision_config: { hidden_size: 12 }, hidden_act: "quick_gelu" } }).config,
    ).toMatchObject({ width: 12, depth: 6, act: "quick_gelu" });
    expect(compileOk(src, { checkpointConfig: { vision_config: { hidden_size: 12 } }, overrides: { width: "20" } }).config).toMatchObject({
      width: 20,
      depth: 10,
    });
  });

  it("reads CLIP sizes from a CLIPModel config.json", () => {
    const p = compileFile("graphs/clip.tsr", {
      checkpointConfig: {
        projection_dim: 768,
        vision_config: {
          hidden_size: 1024,
          image_size: 336,
          patch_size: 14,
          num_hidden_layers: 24,
          num_attention_heads: 16,
          intermediate_size: 4096,
        },
      },
    });
    expect(p.config).toMatchObject({ hidden: 1024, image: 336, patch: 14, layers: 24, crop: 336, projection: 768 });
    const out = p.graph.nodes[p.graph.outputs[0].node];
    expect(out.shape.map(dimToString)).toEqual(["B", "577", "1024"]);
  });

  it("follows the processor's do_* switches and values in preprocessor_config.json", () => {
    const p = compileFile("graphs/clip.tsr", {
      preprocessorConfig: { do_center_crop: false, do_normalize: false, rescale_factor: 0.5, size: { shortest_edge: 256 }, resample: 2 },
    });
    expect(p.preprocess).toEqual([
      { op: "convert_rgb" },
      { op: "resize_shortest", size: 256, filter: "bilinear" },
      { op: "rescale", factor: 0.5 },
    ]);
    expect(tryCompile(`model m {\n  preprocess { rescale(0.5, when = "yes") }\n  input x: f32[3]\n  output y = x\n}`).errors).toContain(
      "test.tsr:2:16: error: 'when' must be a bool, got string \"yes\"",
    );
  });

  it("declares an input and a preprocess branch only where their `when` holds (DeepSeek-VL's four layouts)", () => {
    const json = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
    const inputsOf = (fixture: string) => {
      const p = compileFile("graphs/deepseek-vl.tsr", {
        checkpointConfig: json(`test/fixtures/${fixture}/config.json`),
        preprocessorConfig: existsSync(`test/fixtures/${fixture}/preprocessor_config.json`)
          ? json(`test/fixtures/${fixture}/preprocessor_config.json`)
          : undefined,
      });
      return { inputs: p.graph.inputs.map((i) => i.name), branches: branchInputs(p.preprocess), steps: p.preprocess };
    };
    const hybrid = inputsOf("deepseek-vl-hf");
    expect(hybrid.inputs).toEqual(["pixel_values", "high_res_pixel_values", "rel_window", "rel_global"]);
    expect(hybrid.branches).toEqual(["high_res_pixel_values"]);
    expect(hybrid.steps.map((s) => s.op)).toEqual(["convert_rgb", "pad_square", "branch", "pad_square", "rescale", "normalize"]);
    expect(hybrid.steps[1]).toMatchObject({ size: 128, background: [122, 116, 104], rounding: "round" });
    expect(inputsOf("deepseek-vl-1.3b-hf")).toMatchObject({ inputs: ["pixel_values"], branches: [] });
    expect(inputsOf("deepseek-vl")).toMatchObject({ inputs: ["pixel_values", "rel_window", "rel_global"], branches: [] });
    expect(inputsOf("deepseek-vl-1.3b").steps[1]).toMatchObject({ op: "pad_square", size: 48, rounding: "trunc" });
    expect(tryCompile(`model m {\n  input x: f32[3]\n  input z: f32[3] when 1\n  output y = x\n}`).errors).toContain(
      "test.tsr:3:24: error: 'when' must be a bool, got int 1",
    );
    expect(
      tryCompile(`model m {\n  preprocess { branch b when "x" { rescale(0.5) } }\n  input x: f32[3]\n  output y = x\n}`).errors,
    ).toContain("test.tsr:2:30: error: 'when' must be a bool");
    const other = tryCompile(
      readFileSync("graphs/deepseek-vl.tsr", "utf8"),
      { checkpointConfig: { model_type: "llava" } },
      "graphs/deepseek-vl.tsr",
    );
    expect(other.errors).toContain('not a DeepSeek-VL checkpoint: its vision tower is "llava"');
  });

  it("runs LLaVA's layers after the feature layer only for the whole tower's last_hidden_state", () => {
    const full = compileFile("graphs/llava-1.5.tsr");
    const features = compileFile("graphs/llava-1.5.tsr", { overrides: { tower_output: "false" } });
    expect(full.graph.outputs.map((o) => o.name)).toEqual(["last_hidden_state", "image_embeds"]);
    expect(features.graph.outputs.map((o) => o.name)).toEqual(["image_embeds"]);
    expect(
      full.graph.nodes.filter((n) => n.op.kind === "param").length - features.graph.nodes.filter((n) => n.op.kind === "param").length,
    ).toBe(16);
  });

  it("picks optional weights with has_weight", () => {
    const src = tiny(`  if has_weight("proj.weight") { x = linear(x, "proj", 3, bias = false) }\n  output y = x`);
    expect(compileOk(src, { hasWeight: () => false }).graph.nodes.some((n) => n.op.kind === "matmul")).toBe(false);
    expect(compileOk(src, { hasWeight: (n) => n === "proj.weight" }).graph.nodes.some((n) => n.op.kind === "matmul")).toBe(true);
  });
});

describe("diagnostics", () => {
  it("reports several errors in one run, each at its own line", () => {
    const r = tryCompile(
      tiny(`  a = x + nope
  b = linear(x, "fc", width)
  c = matmul_nt(b, param("w", [3, 7]))
  d = reshape(x, [7, 7])
  output y = b`),
    );
    expect(r.errors).toMatchInlineSnapshot(`
      "test.tsr:4:11: error: unknown name 'nope'
         4 |   a = x + nope
                       ^~~~
      test.tsr:6:7: error: matmul_nt: contraction dims differ: [B, 5, 8] x [3, 7]^T (8 vs 7)
         6 |   c = matmul_nt(b, param("w", [3, 7]))
                   ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
      test.tsr:7:7: error: reshape: cannot view [B, 5, 8] as [7, 7] (element counts differ)
         7 |   d = reshape(x, [7, 7])
                   ^~~~~~~~~~~~~~~~~~
      3 errors"
    `);
  });

  it("reports a mistake in a block's body once, however often the block is called", () => {
    const r = tryCompile(
      "model m {\n  input x: f32[2, 3]\n  block b(x: tensor) { return x * nope }\n  repeat 3 as i { x = b(x) }\n  output y = x\n}\n",
    );
    expect(r.errors?.match(/unknown name 'nope'/g)).toHaveLength(1);
    expect(r.errors).toContain("test.tsr:3:35: error: unknown name 'nope'");
  });

  it("points into the prelude when a block is misused, and does not cascade", () => {
    const r = tryCompile(tiny(`  y = layernorm(x, "ln", eps = "small")\n  output y = y`));
    expect(r.errors).toContain("test.tsr:4:7: error: argument 'eps' of 'layernorm' must be float, got string \"small\"");
    expect(r.errors?.match(/error:/g)).toHaveLength(1);
  });

  it("rejects broadcasting mismatches", () => {
    const r = tryCompile(tiny(`  output y = x + param("p", [7])`));
    expect(r.errors).toContain("shapes [B, 5, 8] and [7] do not broadcast (axis 2: 8 vs 7)");
  });

  it("names unknown presets and config keys", () => {
    expect(tryCompile(tiny("  output y = x"), { preset: "huge" }).errors).toContain("model 'm' has no preset 'huge' (presets: none)");
    expect(tryCompile(tiny("  output y = x"), { overrides: { widht: "3" } }).errors).toContain(
      "config override 'widht': model 'm' has no config value 'widht' (it has width)",
    );
    expect(tryCompile(tiny("  output y = x"), { overrides: { width: "three" } }).errors).toContain(
      "config override width=three: expected int",
    );
  });

  it("checks config.json value types", () => {
    const src = `model m {\n  config { width: int = 8 from "hidden_size" }\n  input x: f32[width]\n  output y = x\n}`;
    expect(tryCompile(src, { checkpointConfig: { hidden_size: "wide" } }).errors).toContain(
      `config.json 'hidden_size' = "wide" is not a valid int for 'width'`,
    );
  });

  it("rejects an unknown activation with a message naming it", () => {
    const r = tryCompile(tiny(`  output y = activation(x, "swish2")`));
    expect(r.errors).toContain("unknown activation 'swish2'");
  });

  it("rejects non-finite numbers and impossible head counts where they are made (found by the fuzzer)", () => {
    expect(tryCompile(tiny("  output y = x * (1.0 / 0)")).errors).toContain("'/' of float 1 and int 0 is not a finite number");
    expect(tryCompile(tiny("  output y = reshape(x, [dim(x, 0), 40 / 0])")).errors).toContain("integer division by zero");
    expect(tryCompile(tiny("  output y = attention(x, x, x, -1)")).errors).toContain("attention: heads must be a positive integer, got -1");
  });

  it("requires an output", () => {
    expect(tryCompile(tiny("  y = x")).errors).toContain("model 'm' declares no output");
  });

  it("rejects unknown preprocess steps and bad arguments", () => {
    const src = `model m {\n  preprocess { resize(224, filter = "hamming")\n  blur(3) }\n  input x: f32[3]\n  output y = x\n}`;
    const errors = tryCompile(src).errors ?? "";
    expect(errors).toContain("test.tsr:2:16: error: filter must be one of");
    expect(errors).toContain("test.tsr:3:3: error: unknown preprocess step 'blur'");
  });
});
