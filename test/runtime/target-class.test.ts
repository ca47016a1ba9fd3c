import { describe, expect, it } from "vitest";
import { adapterClass, deviceTarget, type GpuContext } from "../../runtime/gpu-context.ts";

describe("the adapter's class and a forced class", () => {
  it("fallback adapters and software rasterisers are the CPU class, the rest GPUs", () => {
    expect(adapterClass({ isFallbackAdapter: true, description: "some adapter" })).toBe("cpu");
    expect(adapterClass({ architecture: "software", description: "" })).toBe("cpu");
    expect(adapterClass({ description: "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" })).toBe("cpu");
    expect(adapterClass({}, "Google SwiftShader Device (Subzero)")).toBe("cpu");
    expect(adapterClass({ description: "Microsoft Basic Render Driver" })).toBe("cpu");
    expect(adapterClass({ isFallbackAdapter: false, description: "NVIDIA H200" })).toBe("gpu");
    expect(adapterClass({ description: "AMD Radeon RX 7900 XTX (RADV NAVI31)", architecture: "rdna-3" })).toBe("gpu");
    expect(adapterClass({}, "apple m2")).toBe("gpu");
  });

  it("a forced class keeps the device's features and tunes under its own cache key", () => {
    const ctx = { adapterName: "llvmpipe", features: ["subgroups"], subgroupMinSize: 8, targetClass: "cpu" } as GpuContext;
    expect(deviceTarget(ctx)).toEqual({ features: ["subgroups"], subgroupMinSize: 8, targetClass: "cpu", tuningKey: "llvmpipe" });
    expect(deviceTarget(ctx, "cpu").tuningKey).toBe("llvmpipe");
    expect(deviceTarget(ctx, "gpu")).toEqual({
      features: ["subgroups"],
      subgroupMinSize: 8,
      targetClass: "gpu",
      tuningKey: "llvmpipe (as gpu)",
    });
  });
});
