import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { UsageError } from "../../core/errors.ts";
import type { Model } from "../../runtime/model.ts";
import { compile, type Compiled, type ConfigValue } from "../compile.ts";
import type { GraphSpec } from "../graphs.ts";
import { load, type LoadOptions } from "../load.ts";
import type { EmbedSource, StoreMeta } from "./store.ts";
import type { ColumnType } from "./items.ts";

/** The model that makes a collection's vectors: a graph and its checkpoint, cut down to one output. */
export interface EmbedModelOptions {
  /** A graph file, a bundled graph's name, or source text. */
  graph: GraphSpec;
  /** A Hugging Face checkpoint folder; without one, seeded random weights (and a warning). */
  weights?: string;
  preset?: string;
  config?: Readonly<Record<string, ConfigValue>>;
  dtype?: "f32" | "f16";
  /** The graph output each vector is; default `image_embeds`. */
  output?: string;
  device?: LoadOptions["device"];
  seed?: number;
  onWarning?: (message: string) => void;
}

const configText = (v: ConfigValue): string => (typeof v === "string" ? v : Array.isArray(v) ? JSON.stringify(v) : String(v));

/** The source a database records, so the same graph can be compiled again for its queries. */
export function embedSource(options: EmbedModelOptions, compiled: Compiled): EmbedSource {
  if (typeof options.graph !== "string")
    throw new UsageError("embed: give the graph as a file or a bundled graph's name, so the database can name it for search");
  return {
    graph: compiled.source.startsWith("graphs/") ? compiled.source : resolve(compiled.source),
    weights: options.weights === undefined ? null : resolve(options.weights),
    preset: options.preset ?? null,
    config: Object.fromEntries(Object.entries(options.config ?? {}).map(([k, v]) => [k, configText(v)])),
    output: options.output ?? "image_embeds",
    dtype: options.dtype ?? "f32",
  };
}

/** A hash of what decides the vectors but the weights' values: config, preprocessing, output, storage type. */
export function configHash(compiled: Compiled, source: EmbedSource): string {
  const what = {
    model: compiled.name,
    config: compiled.config,
    preprocess: compiled.program.preprocess,
    output: source.output,
    dtype: source.dtype,
  };
  return createHash("sha256").update(JSON.stringify(what)).digest("hex").slice(0, 16);
}

/** The graph compiled to its embedding output, before any device: what a database records of it. */
export interface EmbedGraph {
  compiled: Compiled;
  output: string;
  meta: (columns: { name: string; type: ColumnType }[]) => StoreMeta;
}

export interface EmbedModel extends EmbedGraph {
  model: Model;
}

/** Compiles the graph to its embedding output alone (no device needed: a queue's producer uses only this). */
export function compileEmbed(options: EmbedModelOptions): EmbedGraph {
  const output = options.output ?? "image_embeds";
  const compiled = compile(options.graph, {
    weights: options.weights,
    preset: options.preset,
    config: options.config,
    dtype: options.dtype,
    outputs: [output],
  });
  const [spec] = compiled.outputs;
  if (spec.shape.length < 2)
    throw new UsageError(`${compiled.name}: output '${output}' ${JSON.stringify(spec.shape)} is not a vector per image`);
  const dim = spec.shape[spec.shape.length - 1];
  if (typeof dim !== "number")
    throw new UsageError(`${compiled.name}: output '${output}' has a symbolic width (${dim}); embed needs vectors of one width`);
  const source = embedSource(options, compiled);
  const hash = configHash(compiled, source);
  const meta = (columns: { name: string; type: ColumnType }[]): StoreMeta => ({
    model: compiled.name,
    configHash: hash,
    dim,
    columns,
    source,
  });
  return { compiled, meta, output };
}

/** Compiles the graph to its embedding output alone and loads it. */
export async function loadEmbedModel(options: EmbedModelOptions): Promise<EmbedModel> {
  const graph = compileEmbed(options);
  const model = await load(graph.compiled, {
    weights: options.weights,
    seed: options.seed,
    device: options.device,
    onWarning: options.onWarning,
  });
  return { ...graph, model };
}

/** Rows of an output tensor, one per image: an error when the output is not one vector per image. */
export function vectorsOf(
  model: Model,
  outputs: Record<string, { shape: number[]; data: Float32Array }>,
  output: string,
  images: number,
): Float32Array[] {
  const t = outputs[output];
  const dim = t.shape[t.shape.length - 1];
  const rows = t.data.length / dim;
  if (rows !== images)
    throw new UsageError(
      `${model.name}: output '${output}' ${JSON.stringify(t.shape)} has ${rows} rows for ${images} images; embed needs one vector per image (a pooled output such as image_embeds)`,
    );
  return Array.from({ length: rows }, (_, i) => t.data.slice(i * dim, (i + 1) * dim));
}
