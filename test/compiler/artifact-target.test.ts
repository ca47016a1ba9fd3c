import { describe, expect, it } from "vitest";
import { buildArtifact } from "../../compiler/emit/artifact.ts";
import { compileFile } from "../../compiler/frontend.ts";

describe("a compiled artifact for an adapter class", () => {
  const program = compileFile("graphs/vit.tsr", { overrides: { layers: "1" } });
  const build = (target?: "cpu" | "gpu") => buildArtifact(program, "graphs/vit.tsr", { fuse: true, storage: "f32", target }, {});

  it("without a class: portable attention (2 queries per tile), register-blocked matmuls", () => {
    const { plan } = build();
    expect(plan.targetClass).toBeUndefined();
    expect(plan.kernels.filter((k) => k.kind === "attention").map((k) => k.tuning?.tiling)).toEqual(["flash 16t 2q 64k workgroup"]);
    expect(plan.kernels.some((k) => k.wgsl.includes("var<workgroup> aTile"))).toBe(false);
  });

  it("for the GPU class: the staged attention and tiled matmuls; the same kernel count", () => {
    const portable = build();
    const { plan } = build("gpu");
    expect(plan.targetClass).toBe("gpu");
    expect(plan.kernels.length).toBe(portable.plan.kernels.length);
    expect(plan.kernels.filter((k) => k.kind === "attention").map((k) => k.tuning?.tiling)).toEqual(["staged 64t 16q 32k"]);
    expect(plan.kernels.filter((k) => k.kind === "matmul").every((k) => k.wgsl.includes("var<workgroup> aTile"))).toBe(true);
  });
});
