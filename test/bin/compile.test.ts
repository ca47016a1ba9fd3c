import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { maxAbsDiff, type HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { tesserae } from "../helpers/cli.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "tesserae-compile-"));

interface CompiledVit {
  load(device: GPUDevice | undefined, weights: string): Promise<{ run(inputs: { pixel_values: HostTensor }): Promise<{ last_hidden_state: HostTensor; image_embeds: HostTensor }>; dispose(): void }>;
  run(inputs: { pixel_values: HostTensor }): Promise<{ last_hidden_state: HostTensor; image_embeds: HostTensor }>;
  inputShapes: Record<string, readonly (number | string)[]>;
}

describe("tesserae compile: plan.json, kernels/*.wgsl and a typed TypeScript module", () => {
  const out = join(tmp, "vit");

  it("writes the artifact; the module type-checks with tsc --strict on its own", async () => {
    const r = await tesserae("compile", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["kernels", "model.ts", "package.json", "plan.json"]);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { format: string; plan: { kernels: { wgsl_file: string }[] } };
    expect(plan.format).toBe("tesserae-plan/1");
    for (const k of plan.plan.kernels) expect(readFileSync(join(out, k.wgsl_file), "utf8")).toContain("@compute");
    const module = readFileSync(join(out, "model.ts"), "utf8");
    expect(module).toContain("export async function load(device: GPUDevice | undefined");
    expect(module).toContain("pixel_values: HostTensor");
    expect(module).not.toMatch(/compiler\//);
    writeFileSync(join(tmp, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"],
        allowImportingTsExtensions: true, skipLibCheck: true, types: ["node", "webgpu-types"], typeRoots: [join(ROOT, "node_modules", "@types"), join(tmp, "types")],
      },
      files: [join(out, "model.ts")],
    }));
    // @webgpu/types, visible to the standalone check as a type root of its own.
    mkdirSync(join(tmp, "types", "webgpu-types"), { recursive: true });
    writeFileSync(join(tmp, "types", "webgpu-types", "index.d.ts"), `/// <reference path="${join(ROOT, "node_modules", "@webgpu", "types", "dist", "index.d.ts")}" />\n`);
    execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(tmp, "tsconfig.json")], { stdio: "pipe" });
  });

  it("the module, imported, loads the checkpoint and runs: the outputs match the PyTorch reference", async () => {
    expect(existsSync(join(out, "model.ts"))).toBe(true);
    const compiled = (await import(pathToFileURL(join(out, "model.ts")).href)) as CompiledVit;
    expect(compiled.inputShapes.pixel_values).toEqual(["B", 3, 36, 36]);
    const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
    const model = await compiled.load(undefined, "test/fixtures/vit");
    const got = await model.run({ pixel_values: ref.read("pixel_values") });
    // The module-level run() uses the model loaded last.
    const again = await compiled.run({ pixel_values: ref.read("pixel_values") });
    expect(maxAbsDiff(again.image_embeds, got.image_embeds)).toBe(0);
    model.dispose();
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
    expect((JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { compiled_with: { fuse: boolean } }).compiled_with.fuse).toBe(false);
  });
});
