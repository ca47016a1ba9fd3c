// A compiled graph as `tesserae compile` ships it (plan.json and its kernels' WGSL), made into a Model.
// Browser-safe: reading files, fetching URLs and opening a device are the entry points' business
// (runtime/index.ts for browsers, runtime/node.ts for Node).
import type { WeightNaming } from "../core/weight-names.ts";
import { bestNameMap } from "../core/weight-names.ts";
import type { Dim } from "../core/dims.ts";
import type { Program } from "../core/program.ts";
import type { Plan } from "../core/plan.ts";
import { deserializePlan, parsePlanFile, weightsGraph, type PlanFile, type SerializedPlan } from "../core/serialize.ts";
import { InputError, UsageError, WeightsError } from "../core/errors.ts";
import type { GpuContext } from "./gpu-context.ts";
import { Model, type ModelOptions } from "./model.ts";
import type { HostTensor, WeightSource } from "./tensor.ts";
import { lazyRandomWeights } from "./weights/random.ts";
import { tensorsFromBuffer } from "./weights/safetensors-buffer.ts";

/** A compiled graph in memory: plan.json's text (or parsed) and each kernel file's WGSL by its name in the plan. */
export interface ArtifactSource {
  plan: string | PlanFile;
  kernels: Readonly<Record<string, string>>;
}

/**
 * Weights of a compiled graph: tensors by name (or a source of them), a whole safetensors file's bytes
 * (or a sharded checkpoint's files), `{ seed }` for seeded random weights, or where to read them from:
 * a URL (browser and Node) or a checkpoint folder or file (Node).
 */
export type WeightsInput =
  | ReadonlyMap<string, HostTensor>
  | WeightSource
  | ArrayBuffer
  | readonly ArrayBuffer[]
  | { seed: number }
  | string
  | URL;

export interface LoadArtifactOptions extends ModelOptions {
  weights: WeightsInput;
  /** The device to run on; default: the platform's own (navigator.gpu in a browser, Dawn in Node). */
  device?: GPUDevice;
}

/** The kernel files a plan names (its load-time preparation's too). */
export function kernelFiles(file: PlanFile): string[] {
  const names = new Set<string>();
  for (let s: SerializedPlan | null = file.plan; s; s = s.prepare) for (const k of s.kernels) names.add(k.wgsl_file);
  return [...names];
}

export function parseArtifact(source: ArtifactSource, where: string): { file: PlanFile; plan: Plan } {
  const file = typeof source.plan === "string" ? parsePlanFile(source.plan, where) : source.plan;
  const plan = deserializePlan(file.plan, (name) => {
    const text = source.kernels[name];
    if (typeof text !== "string") throw new InputError(`${where}: kernel file ${name} is missing`);
    return text;
  });
  return { file, plan };
}

export function programOf(file: PlanFile, plan: Plan): Program {
  return { name: file.model, graph: plan.graph, presets: [], ...file.program, renames: file.program.renames ?? [] };
}

/** The checkpoint tensors a graph reads: its name, how a checkpoint may name its tensors, their names and shapes. */
export interface WeightsWanted {
  model: string;
  naming: WeightNaming;
  weights: readonly { name: string; shape: readonly Dim[] }[];
}

export const wantedBy = (file: PlanFile): WeightsWanted => ({
  model: file.model,
  naming: { prefixes: file.program.prefixes, renames: file.program.renames ?? [] },
  weights: file.weights,
});

/** The tensors a graph reads, under the graph's names (the naming that finds the most of them), their shapes checked. */
export function checkpointTensors(wanted: WeightsWanted, tensors: ReadonlyMap<string, HostTensor>, where: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const names = wanted.weights.map((w) => w.name);
  const stored = bestNameMap(wanted.naming, names, (n) => tensors.has(n));
  for (const { name, shape } of wanted.weights) {
    const key = tensors.has(stored(name)) ? stored(name) : name;
    const t = tensors.get(key);
    if (!t) throw new WeightsError(`${where} has no tensor '${stored(name)}' that graph '${wanted.model}' needs`);
    const want = shape.map((d) => (typeof d === "number" ? d : Number.NaN));
    if (want.every(Number.isFinite) && (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))) {
      throw new WeightsError(
        `tensor '${key}' in ${where} has shape [${t.shape.join(", ")}], but graph '${wanted.model}' expects [${want.join(", ")}]`,
      );
    }
    out.set(name, t);
  }
  return out;
}

/** Weights that need no file access: tensors or a source as given, safetensors bytes, or seeded random ones. */
export function inMemoryWeights(file: PlanFile, weights: WeightsInput): WeightSource | null {
  if (weights instanceof Map) return checkpointTensors(wantedBy(file), weights, "the given tensors");
  if (weights instanceof ArrayBuffer)
    return checkpointTensors(wantedBy(file), tensorsFromBuffer(weights, "the given safetensors bytes"), "the given safetensors bytes");
  if (Array.isArray(weights) && weights.length > 0 && weights.every((b) => b instanceof ArrayBuffer)) {
    return checkpointTensors(
      wantedBy(file),
      mergeShards(weights.map((b: ArrayBuffer, i) => tensorsFromBuffer(b, `safetensors buffer ${i}`))),
      "the given safetensors buffers",
    );
  }
  if (typeof weights === "object" && weights !== null && "seed" in weights && typeof weights.seed === "number")
    return lazyRandomWeights(weightsGraph(file), weights.seed);
  if (typeof weights === "object" && weights !== null && "get" in weights && typeof weights.get === "function")
    return weights as WeightSource;
  return null;
}

/** The tensors of a sharded checkpoint's files, as one map. */
function mergeShards(shards: readonly Map<string, HostTensor>[]): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const shard of shards) {
    for (const [name, t] of shard) {
      if (out.has(name)) throw new WeightsError(`tensor '${name}' is in more than one of the given safetensors buffers`);
      out.set(name, t);
    }
  }
  return out;
}

/** A response that is not an error, or InputError naming what was fetched. */
export async function fetchOk(url: URL, what: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new InputError(`${what} ${url.href}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!r.ok) throw new InputError(`${what} ${url.href}: HTTP ${r.status}`);
  return r;
}

/** The tensors a compiled graph reads, from a safetensors file at a URL. */
export async function fetchedTensors(file: PlanFile, url: URL): Promise<Map<string, HostTensor>> {
  const bytes = await (await fetchOk(url, "weights")).arrayBuffer();
  return checkpointTensors(wantedBy(file), tensorsFromBuffer(bytes, url.href), url.href);
}

export function weightsUnreadable(weights: WeightsInput, platform: string): never {
  throw new UsageError(
    `weights: ${platform} takes tensors by name, { seed }, ${platform === "a browser" ? "a URL of a safetensors file, or its bytes (ArrayBuffer)" : "a checkpoint folder or .safetensors file, a URL, or safetensors bytes (ArrayBuffer)"}; got ${describe(weights)}`,
  );
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return v.constructor?.name ?? "an object";
  return typeof v;
}

export async function modelFromArtifact(
  ctx: GpuContext,
  file: PlanFile,
  plan: Plan,
  weights: WeightSource,
  options: ModelOptions,
): Promise<Model> {
  return Model.create(ctx, programOf(file, plan), plan, weights, options);
}
