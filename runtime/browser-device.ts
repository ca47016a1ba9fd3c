import { NoAdapterError } from "../core/errors.ts";
import { contextFor, type GpuContext } from "./gpu-context.ts";

let shared: Promise<GpuContext> | undefined;

/** The page's WebGPU device (navigator.gpu), opened once with the features the kernels can use. */
export function browserGpu(): Promise<GpuContext> {
  shared ??= (async () => {
    const gpu = typeof navigator === "undefined" ? undefined : navigator.gpu;
    if (!gpu)
      throw new NoAdapterError("this browser has no WebGPU (navigator.gpu); in Chromium on Linux start it with --enable-unsafe-webgpu");
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new NoAdapterError("navigator.gpu gave no WebGPU adapter");
    const features = (["timestamp-query", "shader-f16", "subgroups"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({
      requiredFeatures: features,
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const info = adapter.info;
    return contextFor(device, [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "WebGPU adapter");
  })().catch((e: unknown) => {
    shared = undefined;
    throw e;
  });
  return shared;
}
