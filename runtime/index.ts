/// <reference types="@webgpu/types" />
// `tesserae/runtime` in a browser (and for bundlers): load a compiled graph and run it on navigator.gpu.
// Nothing here imports Node; runtime/node.ts is the same API for Node, with files and Dawn.
import {
  fetchedTensors,
  fetchOk,
  inMemoryWeights,
  kernelFiles,
  modelFromArtifact,
  parseArtifact,
  weightsUnreadable,
  type ArtifactSource,
  type LoadArtifactOptions,
} from "./artifact.ts";
import { browserGpu } from "./browser-device.ts";
import { decodeInBrowser } from "./image/browser-decode.ts";
import { contextFor } from "./gpu-context.ts";
import type { Model } from "./model.ts";
import type { WeightSource } from "./tensor.ts";
import { parsePlanFile, type PlanFile } from "../core/serialize.ts";

export * from "./exports.ts";

/** A compiled folder at a URL (plan.json and kernels/ below it). */
async function fetchArtifact(base: URL): Promise<ArtifactSource> {
  const planUrl = new URL("plan.json", base);
  const text = await (await fetchOk(planUrl, "compiled graph")).text();
  const kernels: Record<string, string> = {};
  await Promise.all(
    kernelFiles(parsePlanFile(text, planUrl.href)).map(async (name) => {
      kernels[name] = await (await fetchOk(new URL(name, base), "kernel")).text();
    }),
  );
  return { plan: text, kernels };
}

const here = (): string | undefined => (typeof location === "undefined" ? undefined : location.href);

function folderUrl(spec: string | URL): URL {
  const url = new URL(spec, here());
  return url.href.endsWith("/") ? url : new URL(`${url.href}/`);
}

/** Weights in memory, or a safetensors file fetched from a URL. */
async function fetchedWeights(file: PlanFile, weights: LoadArtifactOptions["weights"]): Promise<WeightSource> {
  const inMemory = inMemoryWeights(file, weights);
  if (inMemory) return inMemory;
  if (typeof weights === "string" || weights instanceof URL) {
    return fetchedTensors(file, new URL(weights, here()));
  }
  return weightsUnreadable(weights, "a browser");
}

/**
 * Loads a compiled graph: `source` is what a compiled model embeds, or the URL of a folder
 * `tesserae compile` wrote; the weights come from `options.weights`.
 */
export async function loadArtifact(source: ArtifactSource | string | URL, options: LoadArtifactOptions): Promise<Model> {
  const where = typeof source === "string" || source instanceof URL ? String(source) : "the compiled graph";
  const artifact = typeof source === "string" || source instanceof URL ? await fetchArtifact(folderUrl(source)) : source;
  const { file, plan } = parseArtifact(artifact, where);
  const weights = await fetchedWeights(file, options.weights);
  const ctx = options.device ? contextFor(options.device) : await browserGpu();
  // Images given as URLs or encoded bytes are decoded by the browser, through the same device.
  const decode = options.decode ?? ((image: string | Uint8Array, name: string) => decodeInBrowser(ctx.device, image, name));
  return modelFromArtifact(ctx, file, plan, weights, { ...options, decode });
}
