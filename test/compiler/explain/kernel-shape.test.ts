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

  it("the GPU target: every matmul of ViT tiled in workgroup memory with at least 64 invocations", () => {
    const { graph } = compileFile("graphs/vit.tsr");
    const gpu = explainPlan(
      compileGraph(graph, { fuse: true, target: { features: [], subgroupMinSize: 0, targetClass: "gpu" } }),
      "vit",
      { B: 1 },
      true,
    );
    const matmuls = gpu.kernels.filter((k) => k.kind === "matmul");
    expect(matmuls.length).toBeGreaterThan(0);
    for (const k of matmuls) {
      expect(k.workgroupSize).toBeGreaterThanOrEqual(64);
      expect(k.workgroupMemoryBytes).toBeGreaterThan(0);
    }
    expect(matmuls.some((k) => k.tiling?.startsWith("tiled "))).toBe(true);
    // The portable plan keeps lavapipe's register-blocked kernels, without workgroup tiles.
    const portable = explainPlan(compileGraph(graph, { fuse: true }), "vit", { B: 1 }, true);
    expect(portable.kernels.filter((k) => k.kind === "matmul").every((k) => !k.tiling?.startsWith("tiled"))).toBe(true);
  });
});
