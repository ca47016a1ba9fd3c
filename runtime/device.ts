import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { create, globals } from "webgpu";

/** No WebGPU adapter could be had: the message says what to install. */
export class NoAdapterError extends Error {}

export interface GpuContext {
  device: GPUDevice;
  adapterName: string;
  features: string[];
  /** Validation or out-of-memory errors that escaped an error scope: a run that saw one has failed. */
  uncaptured: string[];
  /** Why the device was lost, once it has been; getGpu() then opens a new one. */
  lost: string | null;
}

/** The device was lost (driver reset, destroyed): what was loaded on it is gone. */
export class DeviceLostError extends Error {}

// dawn.node dies when the object create() returned is garbage-collected: keep it for the life of the process.
let gpuInstance: GPU | undefined;
let shared: Promise<GpuContext> | undefined;
let current: GpuContext | undefined;

const INSTALL_HINT =
  "Tesserae runs on WebGPU through Dawn (npm 'webgpu'); without a GPU it needs Vulkan on the CPU: " +
  "on Debian 12 run as root `npm run setup` (installs libvulkan1 and mesa-vulkan-drivers >= 24 from bookworm-backports); " +
  "elsewhere install a Vulkan loader and driver (e.g. Mesa lavapipe >= 24).";

async function open(): Promise<GpuContext> {
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  if (process.platform === "linux" && !["/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "/usr/lib/aarch64-linux-gnu/libvulkan.so.1", "/usr/lib/libvulkan.so.1", "/usr/lib64/libvulkan.so.1"].some(existsSync)) {
    throw new NoAdapterError(`no Vulkan loader (libvulkan.so.1) found. ${INSTALL_HINT}`);
  }
  Object.assign(globalThis, globals);
  gpuInstance ??= create([]);
  const adapter = await gpuInstance.requestAdapter();
  if (!adapter) throw new NoAdapterError(`no WebGPU adapter found. ${INSTALL_HINT}`);
  const wanted: GPUFeatureName[] = (["shader-f16", "timestamp-query", "subgroups"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures: wanted,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  });
  const ctx: GpuContext = { device, adapterName: describeAdapter(adapter), features: wanted, uncaptured: [], lost: null };
  void device.lost.then((info) => {
    ctx.lost = info.message || info.reason || "unknown reason";
    // The next getGpu() opens a fresh device instead of handing out the lost one.
    if (current === ctx) shared = undefined;
  });
  current = ctx;
  device.addEventListener("uncapturederror", (e) => {
    ctx.uncaptured.push((e as GPUUncapturedErrorEvent).error.message);
  });
  return ctx;
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  // The driver's own description ("llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)") says the most; vendor and architecture otherwise.
  return info.description || [info.vendor, info.architecture, info.device].filter((s) => s && s.length > 0).join(" ") || "unknown adapter";
}

/** The process-wide WebGPU device (created once). */
export function getGpu(): Promise<GpuContext> {
  shared ??= open().catch((e: unknown) => {
    shared = undefined;
    throw e;
  });
  return shared;
}

/** Runs `fn` inside validation and out-of-memory error scopes and throws what they caught. */
/** Throws DeviceLostError when the context's device is gone, naming what was attempted. */
export function requireDevice(ctx: GpuContext, what: string): void {
  if (ctx.lost !== null) throw new DeviceLostError(`the WebGPU device was lost (${ctx.lost}) before ${what}; load the plan again (a new device is opened on the next load)`);
}

export async function checked<T>(device: GPUDevice, what: string, fn: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let result: T;
  try {
    result = await fn();
  } finally {
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (validation) throw new Error(`WebGPU validation error during ${what}: ${validation.message}`);
    if (oom) throw new Error(`WebGPU out of memory during ${what}: ${oom.message}`);
  }
  return result;
}

/** A context around a device the caller opened (a web page's navigator.gpu device, a service's own). */
export function contextFor(device: GPUDevice, adapterName = "caller's device"): GpuContext {
  const ctx: GpuContext = { device, adapterName, features: [...device.features], uncaptured: [], lost: null };
  void device.lost.then((info) => (ctx.lost = info.message || info.reason || "unknown reason"));
  device.addEventListener("uncapturederror", (e) => ctx.uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
  return ctx;
}
