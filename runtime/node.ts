/// <reference types="@webgpu/types" />
// `tesserae/runtime` in Node: the browser entry's API, with compiled folders and checkpoints read from
// disk, and Dawn (npm `webgpu`) as the default device.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  fetchedTensors,
  inMemoryWeights,
  kernelFiles,
  modelFromArtifact,
  parseArtifact,
  weightsUnreadable,
  wantedBy,
  type ArtifactSource,
  type LoadArtifactOptions,
} from "./artifact.ts";
import { contextFor, getGpu } from "./device.ts";
import { InputError } from "../core/errors.ts";
import type { Model } from "./model.ts";
import type { HostTensor, WeightSource } from "./tensor.ts";
import { SafetensorsFile } from "./weights/safetensors.ts";
import { Checkpoint } from "./weights/checkpoint.ts";
import { decodeImage, readImage } from "./image/decode.ts";
import type { RgbImage } from "./image/image.ts";
import { parsePlanFile, weightsGraph, type PlanFile } from "../core/serialize.ts";

export * from "./exports.ts";
export { getGpu } from "./device.ts";
export { decodeImage, readImage } from "./image/decode.ts";

/** Node's decoder for images given as paths or PNG/JPEG bytes. */
export const decodeNode = (image: string | Uint8Array, name: string): Promise<RgbImage> =>
  typeof image === "string" ? readImage(image) : decodeImage(image, name);
export { loadTokenizer } from "./layout/tokenizer.ts";

/** A folder `tesserae compile` wrote, read into memory. */
export function readArtifact(dir: string): ArtifactSource {
  const where = join(dir, "plan.json");
  let text: string;
  try {
    text = readFileSync(where, "utf8");
  } catch {
    throw new InputError(`${dir}: no plan.json (compile a graph into it with \`tesserae compile <graph> --out ${dir}\`)`);
  }
  const kernels: Record<string, string> = {};
  for (const name of kernelFiles(parsePlanFile(text, where))) {
    try {
      kernels[name] = readFileSync(join(dir, name), "utf8");
    } catch {
      throw new InputError(`${dir}: kernel file ${name} that plan.json names is missing`);
    }
  }
  return { plan: text, kernels };
}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !s.startsWith("file:");
const asPath = (s: string | URL): string => (s instanceof URL || s.startsWith("file:") ? fileURLToPath(s) : s);

/** Weights in memory, a checkpoint on disk (read tensor by tensor as they upload), or a safetensors file at a URL. */
async function nodeWeights(
  file: PlanFile,
  weights: LoadArtifactOptions["weights"],
  onWarning?: (m: string) => void,
): Promise<WeightSource> {
  const inMemory = inMemoryWeights(file, weights);
  if (inMemory) return inMemory;
  if ((typeof weights === "string" && isUrl(weights)) || (weights instanceof URL && weights.protocol !== "file:")) {
    return fetchedTensors(file, new URL(weights));
  }
  if (typeof weights === "string" || weights instanceof URL)
    return Checkpoint.open(asPath(weights)).sourceFor(weightsGraph(file), wantedBy(file).naming, onWarning);
  return weightsUnreadable(weights, "Node");
}

/**
 * Loads a compiled graph: `source` is what a compiled model embeds, or a folder (path or file: URL)
 * `tesserae compile` wrote; the weights come from `options.weights`.
 */
export async function loadArtifact(source: ArtifactSource | string | URL, options: LoadArtifactOptions): Promise<Model> {
  const local = typeof source === "string" || source instanceof URL;
  const dir = local ? asPath(source) : "";
  if (local && !statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new InputError(`${dir}: not a folder tesserae compile wrote`);
  const { file, plan } = parseArtifact(local ? readArtifact(dir) : source, local ? join(dir, "plan.json") : "the compiled graph");
  const weights = await nodeWeights(file, options.weights, options.onWarning);
  const ctx = options.device ? contextFor(options.device) : await getGpu();
  return modelFromArtifact(ctx, file, plan, weights, { ...options, decode: options.decode ?? decodeNode });
}

/** Every float tensor of a safetensors file (a Hugging Face processor's saved `pixel_values`, a checkpoint shard), by name. */
export function readTensors(path: string): Map<string, HostTensor> {
  const f = SafetensorsFile.open(path);
  try {
    return new Map(
      [...f.tensors.keys()].flatMap((name) =>
        f.tensors.get(name)?.dtype.startsWith("F") || f.tensors.get(name)?.dtype === "BF16" ? [[name, f.read(name)] as const] : [],
      ),
    );
  } finally {
    f.close();
  }
}
