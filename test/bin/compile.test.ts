import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadArtifact } from "../../runtime/node.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { tesserae } from "../helpers/cli.ts";

const tmp = mkdtempSync(join(tmpdir(), "tesserae-compile-"));

describe("tesserae compile: plan.json, kernels/*.wgsl and an ES module with declarations", () => {
  const out = join(tmp, "vit");

  it("writes the artifact; model.js imports the runtime package and nothing outside the folder", async () => {
    const r = await tesserae("compile", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["kernels", "model.d.ts", "model.js", "package.json", "plan.json"]);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { format: string; plan: { kernels: { wgsl_file: string }[] } };
    expect(plan.format).toBe("tesserae-plan/1");
    for (const k of plan.plan.kernels) expect(readFileSync(join(out, k.wgsl_file), "utf8")).toContain("@compute");
    const js = readFileSync(join(out, "model.js"), "utf8");
    expect([...js.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1])).toEqual(["tesserae/runtime"]);
    expect(js).toContain("export async function load(options)");
    const dts = readFileSync(join(out, "model.d.ts"), "utf8");
    expect(dts).toContain("export declare function load(options: LoadArtifactOptions): Promise<VitModel>;");
    expect(dts).toMatch(/pixel_values: HostTensor;/);
    expect(dts).toContain('readonly pixel_values: readonly ["B", 3, 36, 36];');
    expect(JSON.parse(readFileSync(join(out, "package.json"), "utf8"))).toMatchObject({
      type: "module",
      main: "model.js",
      types: "model.d.ts",
    });
  });

  it("the folder, loaded with the runtime alone, runs the checkpoint: the outputs match the PyTorch reference", async () => {
    const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
    const model = await loadArtifact(out, { weights: "test/fixtures/vit" });
    const got = await model.runTensors({ pixel_values: ref.read("pixel_values") });
    // The same through preprocessing-free run() with ready pixel values.
    const again = await model.run({ pixel_values: ref.read("pixel_values") });
    model.dispose();
    expect(maxAbsDiff(again.outputs.image_embeds, got.image_embeds)).toBe(0);
    expect(maxAbsDiff(got.last_hidden_state, ref.read("last_hidden_state"))).toBeLessThan(1e-4);
    expect(maxAbsDiff(got.image_embeds, ref.read("image_embeds"))).toBeLessThan(1e-4);
  });

  it("refuses a folder holding anything else; an earlier artifact is replaced whole", async () => {
    const foreign = join(tmp, "notes");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "mine.txt"), "keep me");
    const r = await tesserae("compile", "graphs/vit.tsr", "--out", foreign);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("holds files tesserae compile did not write (mine.txt)");
    expect(readFileSync(join(foreign, "mine.txt"), "utf8")).toBe("keep me");
    const again = await tesserae("compile", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--out", out, "--no-fuse");
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { compiled_with: { fuse: boolean } }).compiled_with.fuse).toBe(
      false,
    );
  });
});
