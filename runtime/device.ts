import { NoAdapterError } from "../core/errors.ts";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, globals } from "webgpu";
import { paceDawnPolling } from "./dawn-polling.ts";
import { adapterClass, type GpuContext } from "./gpu-context.ts";

export {
  checked,
  contextFor,
  deviceTarget,
  DeviceLostError,
  requireDevice,
  type DeviceTarget,
  type GpuContext,
  type TargetChoice,
} from "./gpu-context.ts";

export { NoAdapterError };

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
  if (
    process.platform === "linux" &&
    ![
      "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
      "/usr/lib/aarch64-linux-gnu/libvulkan.so.1",
      "/usr/lib/libvulkan.so.1",
      "/usr/lib64/libvulkan.so.1",
    ].some(existsSync)
  ) {
    throw new NoAdapterError(`no Vulkan loader (libvulkan.so.1) found. ${INSTALL_HINT}`);
  }
  Object.assign(globalThis, globals);
  paceDawnPolling();
  // On NVIDIA's Vulkan driver Dawn withholds shader-f16 unless asked (ONNX Runtime's and llama.cpp's WebGPU backends ask too).
  gpuInstance ??= create(["enable-dawn-features=vulkan_enable_f16_on_nvidia"]);
  const gpu = gpuInstance;
  const adapter = await withoutLimitNotices(() => gpu.requestAdapter());
  if (!adapter) throw new NoAdapterError(`no WebGPU adapter found. ${INSTALL_HINT}`);
  const wanted: GPUFeatureName[] = (["shader-f16", "timestamp-query", "subgroups"] as GPUFeatureName[]).filter((f) =>
    adapter.features.has(f),
  );
  const device = await adapter.requestDevice({
    requiredFeatures: wanted,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  });
  const subgroupMinSize = wanted.includes("subgroups") ? (adapter.info.subgroupMinSize ?? 0) : 0;
  const adapterName = describeAdapter(adapter);
  const ctx: GpuContext = {
    device,
    adapterName,
    features: wanted,
    subgroupMinSize,
    targetClass: adapterClass(adapter.info, adapterName),
    uncaptured: [],
    lost: null,
  };
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

// Dawn prints "maxDynamic...PerPipelineLayout artificially reduced ..." to the process's stderr on every
// adapter request (Vulkan reports limits beyond Dawn's dynamic-offset tables): noise users cannot act on.
const LIMIT_NOTICE = /artificially reduced .* to fit dynamic offset allocation limit/;

/**
 * Runs `fn` with file descriptor 2 pointed at a temporary file, then puts stderr back and passes on
 * whatever was written there except Dawn's limit notices. Node cannot dup(2), so stderr is reopened
 * through /proc/self/fd; where that is not possible (not Linux; stderr a socket, as the default stdio of a
 * child process that Node spawned is) nothing is changed and the notices pass.
 */
async function withoutLimitNotices<T>(fn: () => Promise<T>): Promise<T> {
  if (process.platform !== "linux") return fn();
  let saved: number;
  try {
    saved = openSync("/proc/self/fd/2", "a");
  } catch {
    return fn();
  }
  const capture = join(tmpdir(), `tesserae-dawn-${process.pid}-${Date.now()}.log`);
  closeSync(2);
  const fd = openSync(capture, "w+");
  try {
    return await fn();
  } finally {
    closeSync(fd);
    const restored = openSync(`/proc/self/fd/${saved}`, "a");
    closeSync(saved);
    const text = readFileSync(capture, "utf8");
    rmSync(capture, { force: true });
    const rest = text.split("\n").filter((line) => line !== "" && !LIMIT_NOTICE.test(line));
    if (rest.length > 0) writeSync(restored, `${rest.join("\n")}\n`);
  }
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  // The driver's own description ("llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)") says the most; vendor and architecture otherwise.
  return info.description || [info.vendor, info.architecture, info.device].filter((s) => s && s.length > 0).join(" ") || "unknown adapter";
}

/**
 * The process's dawn.node entry point (what `navigator.gpu` is in a browser), for other WebGPU users in
 * the same process (a benchmark peer); it lives as long as the process, like the device.
 */
export async function webgpuEntry(): Promise<GPU> {
  await getGpu();
  return gpuInstance as GPU;
}

/** The process-wide WebGPU device (created once). */
export function getGpu(): Promise<GpuContext> {
  shared ??= open().catch((e: unknown) => {
    shared = undefined;
    throw e;
  });
  return shared;
}
