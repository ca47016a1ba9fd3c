import { TesseraeError } from "../core/errors.ts";
import type { TargetClass } from "../core/plan.ts";
/**
 * A WebGPU device as the runtime uses it, with nothing tied to Node: the executor runs the same in a
 * browser (navigator.gpu) and in Node (Dawn, opened by device.ts).
 */
export interface GpuContext {
  device: GPUDevice;
  adapterName: string;
  features: string[];
  /** The adapter's smallest subgroup (0 without the subgroups feature): kernels that share values by shuffles need enough lanes. */
  subgroupMinSize: number;
  /** What the adapter is: CPU-emulated (a fallback adapter, lavapipe, SwiftShader) or a GPU; plans take their defaults from it. */
  targetClass: TargetClass;
  /** Validation or out-of-memory errors that escaped an error scope: a run that saw one has failed. */
  uncaptured: string[];
  /** Why the device was lost, once it has been; getGpu() then opens a new one. */
  lost: string | null;
}

/** The device was lost (driver reset, destroyed): what was loaded on it is gone. */
export class DeviceLostError extends TesseraeError {}

/** Throws DeviceLostError when the context's device is gone, naming what was attempted. */
export function requireDevice(ctx: GpuContext, what: string): void {
  if (ctx.lost !== null)
    throw new DeviceLostError(
      `the WebGPU device was lost (${ctx.lost}) before ${what}; load the plan again (a new device is opened on the next load)`,
    );
}

/** Runs `fn` inside validation and out-of-memory error scopes and throws what they caught. */
export async function checked<T>(device: GPUDevice, what: string, fn: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await fn() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  // What the scopes caught explains a failure of `fn` better than its own error does.
  if (validation) throw new Error(`WebGPU validation error during ${what}: ${validation.message}`);
  if (oom) throw new Error(`WebGPU out of memory during ${what}: ${oom.message}`);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** A context around a device the caller opened (a web page's navigator.gpu device, a service's own). */
export function contextFor(device: GPUDevice, adapterName = "caller's device"): GpuContext {
  const features = [...device.features];
  const info: AdapterFacts | undefined = device.adapterInfo;
  const subgroupMinSize = features.includes("subgroups") ? (info?.subgroupMinSize ?? 0) : 0;
  const targetClass = adapterClass(info ?? {}, adapterName);
  const ctx: GpuContext = { device, adapterName, features, subgroupMinSize, targetClass, uncaptured: [], lost: null };
  void device.lost.then((info) => (ctx.lost = info.message || info.reason || "unknown reason"));
  device.addEventListener("uncapturederror", (e) => ctx.uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
  return ctx;
}

/** What an adapter says about itself that tells a CPU-emulated one from a GPU. */
export interface AdapterFacts {
  isFallbackAdapter?: boolean;
  architecture?: string;
  description?: string;
  device?: string;
  subgroupMinSize?: number;
}

// Mesa's CPU rasterisers, Google's SwiftShader and Windows' WARP ("Microsoft Basic Render Driver").
const SOFTWARE_ADAPTER = /\b(llvmpipe|lavapipe|softpipe|swiftshader)\b|microsoft basic render/i;

/** "cpu" for a fallback adapter or a known software rasteriser (Mesa llvmpipe, SwiftShader), else "gpu". */
export function adapterClass(info: AdapterFacts, name = ""): TargetClass {
  if (info.isFallbackAdapter === true || info.architecture === "software") return "cpu";
  const words = [info.description, info.device, name].filter((s): s is string => typeof s === "string").join(" ");
  return SOFTWARE_ADAPTER.test(words) ? "cpu" : "gpu";
}

/** The class a plan is compiled for: the adapter's own (`auto`), or one forced to check the other class's kernels. */
export type TargetChoice = TargetClass | "auto";

/** What a plan is compiled for on a device: its features and class, and the tuning cache's entry for that pair. */
export interface DeviceTarget {
  features: readonly string[];
  subgroupMinSize: number;
  targetClass: TargetClass;
  /** The adapter's name, marked when the class is forced: tunings measured for one class never serve the other. */
  tuningKey: string;
}

export function deviceTarget(ctx: GpuContext, choice: TargetChoice = "auto"): DeviceTarget {
  const targetClass = choice === "auto" ? ctx.targetClass : choice;
  const tuningKey = targetClass === ctx.targetClass ? ctx.adapterName : `${ctx.adapterName} (as ${targetClass})`;
  return { features: ctx.features, subgroupMinSize: ctx.subgroupMinSize, targetClass, tuningKey };
}
