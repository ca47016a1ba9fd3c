import { describe, expect, it } from "vitest";
import { compileGraph } from "../../../compiler/compile.ts";
import { kernelShape } from "../../../compiler/explain/kernel-shape.ts";
import { explainPlan } from "../../../compiler/explain/report.ts";
import { compileFile } from "../../../compiler/frontend.ts";

describe("explain: each kernel's workgroup and tiling", () => {
  it("reads invocations and workgroup bytes from the WGSL", () => {
    const wgsl = `var<workgroup> a: array<f32, 10>;\nvar<workgroup> b: array<vec4<f32>, 3>;\nvar<workgroup> c: vec2<u32>;\n@compute @workgroup_size(8, 4)\nfn main() {}`;
    expect(kernelShape(wgsl)).toEqual({ workgroupSize: 32, workgroupMemoryBytes: 10 * 4 + 3 * 16 + 8 });
    expect(kernelShape("@compute @workgroup_size(64)\nfn main() {}")).toEqual({ workgroupSize: 64, workgroupMemoryBytes: 0 });
  });

  it("the GPU target: every matmul and attention kernel of ViT in workgroup memory with at least 64 invocations", () => {
    const { graph } = compileFile("graphs/vit.tsr");
    const gpu = explainPlan(
      compileGraph(graph, { fuse: true, target: { features: [], subgroupMinSize: 0, targetClass: "gpu" } }),
      "vit",
      { B: 1 },
      true,
    );
    const matmuls = gpu.kernels.filter((k) => k.kind === "matmul");
    const attention = gpu.kernels.filter((k) => k.kind === "attention");
    expect(matmuls.length).toBeGreaterThan(0);
    expect(attention.length).toBe(12);
    for (const k of [...matmuls, ...attention]) {
      expect(k.workgroupSize, k.name).toBeGreaterThanOrEqual(64);
      expect(k.workgroupMemoryBytes, k.name).toBeGreaterThan(0);
      expect(k.workgroupMemoryBytes, k.name).toBeLessThanOrEqual(16384);
    }
    expect(matmuls.some((k) => k.tiling?.startsWith("tiled "))).toBe(true);
    // 197 queries of 12 heads in tiles of 16: 13 x 12 workgroups of 64 invocations for 197 x 768 outputs.
    expect(attention.every((k) => k.tiling === "staged 64t 16q 32k")).toBe(true);
    expect(attention[0].outputsPerInvocation).toBe(Number(((197 * 768) / (13 * 12 * 64)).toFixed(2)));
    // The portable plan keeps lavapipe's register-blocked kernels, without workgroup tiles.
    const portable = explainPlan(compileGraph(graph, { fuse: true }), "vit", { B: 1 }, true);
    expect(portable.kernels.filter((k) => k.kind === "matmul").every((k) => !k.tiling?.startsWith("tiled"))).toBe(true);
  });
});
