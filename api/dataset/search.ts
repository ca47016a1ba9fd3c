import { InputError, UsageError } from "../../core/errors.ts";
import { preparedFrom } from "../../runtime/model.ts";
import { compile, type Compiled } from "../compile.ts";
import { load, type LoadOptions } from "../load.ts";
import { decodeItem } from "./decode.ts";
import { loadEmbedModel, vectorsOf } from "./embed-model.ts";
import { openExistingStore } from "./open-store.ts";
import type { EmbeddingStore, EmbedSource, Hit, StoreMeta } from "./store.ts";

export interface SearchOptions {
  /** The database folder `embedCollection` wrote. */
  db: string;
  /** A text query: through the text tower of the graph that made the database (CLIP, SigLIP). */
  text?: string;
  /** An image query (a path): through the same graph and output as the database's rows. */
  image?: string;
  /** A row of the database as the query: its stored vector ("more like this"); no model is loaded. */
  like?: string;
  /** How many hits (default 10). */
  k?: number;
  /** The checkpoint, where it is no longer where the database says. */
  weights?: string;
  device?: LoadOptions["device"];
  onWarning?: (message: string) => void;
}

export interface SearchResult {
  hits: Hit[];
  /** The model that made the database's vectors, and how. */
  meta: StoreMeta;
  query: { text: string } | { image: string } | { like: string };
}

/** The text output that goes with an image output (`image_embeds` -> `text_embeds`). */
const textOutput = (output: string): string => output.replace(/^image/, "text");

async function textVector(source: EmbedSource, text: string, options: SearchOptions): Promise<Float32Array> {
  const output = textOutput(source.output);
  const weights = options.weights ?? source.weights ?? undefined;
  const noTower = new UsageError(
    `${options.db} was made with ${source.graph}, which has no text tower ('${output}' output and input_ids input); text search needs a contrastive graph such as graphs/clip-score.tsr or graphs/siglip-score.tsr`,
  );
  let textOnly: Compiled;
  try {
    textOnly = compile(source.graph, {
      weights,
      preset: source.preset ?? undefined,
      config: source.config,
      dtype: source.dtype,
      outputs: [output],
    });
  } catch (e) {
    // selectOutputs' "has no output" is this database's graph lacking a text tower; other errors are its own.
    if (e instanceof UsageError && e.message.includes(`has no output '${output}'`)) throw noTower;
    throw e;
  }
  if (!textOnly.inputs.some((i) => i.name === "input_ids")) throw noTower;
  const model = await load(textOnly, { weights, device: options.device, onWarning: options.onWarning });
  try {
    const outputs = await model.embedTexts([text]);
    return vectorsOf(model, outputs, output, 1)[0];
  } finally {
    model.dispose();
  }
}

async function imageVector(source: EmbedSource, meta: StoreMeta, image: string, options: SearchOptions): Promise<Float32Array> {
  const em = await loadEmbedModel({
    graph: source.graph,
    weights: options.weights ?? source.weights ?? undefined,
    preset: source.preset ?? undefined,
    config: source.config,
    dtype: source.dtype,
    output: source.output,
    device: options.device,
    onWarning: options.onWarning,
  });
  try {
    if (em.meta([]).configHash !== meta.configHash)
      options.onWarning?.(
        `${source.graph} has changed since ${options.db} was made (config ${meta.configHash}, now ${em.meta([]).configHash})`,
      );
    const still = await decodeItem({ id: image, path: image, at: { file: image }, extra: {} }, em.model.program.preprocess);
    const { outputs } = await em.model.run(preparedFrom(em.model.program, [still], [image]));
    return vectorsOf(em.model, outputs, em.output, 1)[0];
  } finally {
    em.model.dispose();
  }
}

async function storedVector(store: EmbeddingStore, id: string, db: string): Promise<Float32Array> {
  const row = await store.row(id);
  if (!row) throw new InputError(`${db} has no row '${id}'`);
  return row.embedding;
}

/** The rows of a database most similar (cosine) to a text or an image, best first. */
export async function search(options: SearchOptions): Promise<SearchResult> {
  const given = [options.text, options.image, options.like].filter((q) => q !== undefined).length;
  if (given !== 1) throw new UsageError("search: give one query: a text, an image, or a row's id (like)");
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`search: k must be a positive integer, got ${k}`);
  const store = await openExistingStore(options.db);
  try {
    const meta = await store.meta();
    if (!meta) throw new UsageError(`${options.db}: the database holds no rows yet`);
    const vector =
      options.text !== undefined
        ? await textVector(meta.source, options.text, options)
        : options.image !== undefined
          ? await imageVector(meta.source, meta, options.image, options)
          : await storedVector(store, options.like as string, options.db);
    const hits = await store.search(vector, k);
    const query =
      options.text !== undefined
        ? { text: options.text }
        : options.image !== undefined
          ? { image: options.image }
          : { like: options.like as string };
    return { hits, meta, query };
  } finally {
    await store.close();
  }
}
