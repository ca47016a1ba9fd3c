import { preparedFrom } from "../../runtime/model.ts";
import type { Preprocessed } from "../../runtime/preprocess.ts";
import { UsageError } from "../../core/errors.ts";
import { DecodePool, DecodePoolError } from "./decode-pool.ts";
import { type EmbedGraph, type EmbedModel, type EmbedModelOptions, loadEmbedModel, vectorsOf } from "./embed-model.ts";
import { type Collection, type CollectionItem, listCollection, storedPath } from "./items.ts";
import { openStore } from "./open-store.ts";
import { inShard, type Shard, shardPath } from "./shard.ts";
import type { EmbeddingRow, EmbeddingStore, StoreFormat, StoreMeta } from "./store.ts";

/** An image that could not be embedded, and why. */
export interface EmbedFailure {
  id: string;
  path: string;
  message: string;
}

export interface EmbedProgress {
  /** Images of this run done so far (embedded or failed), of `total`. */
  done: number;
  total: number;
  embedded: number;
  failed: number;
  imagesPerSecond: number;
  /** Estimated seconds left (NaN before the first batch). */
  secondsLeft: number;
}

/** Once the inputs are listed and the database read: images in the inputs (and shard), already stored, to embed. */
export interface EmbedPlan {
  total: number;
  existing: number;
  todo: number;
  batchSize: number;
}

export interface EmbedOptions extends EmbedModelOptions {
  /** Folders (recursive), glob patterns, manifests (.csv, .jsonl), WebDataset .tar shards, image files. */
  inputs: readonly string[];
  /** The database folder. With a shard, the shard writes `OUT/shards/I-of-N`, joined by `mergeShards`. */
  out: string;
  /** Default `lance` (or the format an existing database has). */
  format?: StoreFormat;
  shard?: Shard | null;
  /** Images per GPU run; default: as many as fit `memoryBudget`. */
  batchSize?: number;
  /** GPU bytes a run may take beyond the weights (default 1 GiB). */
  memoryBudget?: number;
  /** Decode threads (default: the cores but one; 0 decodes on the main thread). */
  threads?: number;
  /** Stops after the batch in flight is stored. */
  signal?: AbortSignal;
  onPlan?: (plan: EmbedPlan) => void;
  onProgress?: (progress: EmbedProgress) => void;
  onFailure?: (failure: EmbedFailure) => void;
  /** After each batch is stored: its ids. */
  onBatch?: (ids: readonly string[]) => void;
}

export interface EmbedSummary {
  where: string;
  format: StoreFormat;
  /** Images in the inputs (in this shard, with one). */
  total: number;
  /** Already in the database before this run. */
  existing: number;
  embedded: number;
  failed: EmbedFailure[];
  batchSize: number;
  seconds: number;
  imagesPerSecond: number;
  /** The run stopped early (its signal); run it again to finish. */
  interrupted: boolean;
}

const DEFAULT_BUDGET = 2 ** 30;

/** An error when a database holds vectors another model made (their hash differs). */
export function checkMeta(where: string, found: StoreMeta | null, ours: StoreMeta): void {
  if (!found) return;
  if (found.configHash !== ours.configHash || found.dim !== ours.dim)
    throw new UsageError(
      `${where} holds embeddings of ${found.model} (config ${found.configHash}, width ${found.dim}); this run's are ${ours.model} (config ${ours.configHash}, width ${ours.dim}): write them to another --out`,
    );
  const columns = (m: StoreMeta): string => m.columns.map((c) => `${c.name}:${c.type}`).join(", ");
  if (columns(found) !== columns(ours))
    throw new UsageError(`${where} has the extra columns [${columns(found)}], these inputs give [${columns(ours)}]`);
}

/** The batches of a run, each decoded on the pool while the previous one is on the GPU. */
async function* decodedBatches(
  pool: DecodePool,
  batches: CollectionItem[][],
): AsyncGenerator<{ items: CollectionItem[]; results: PromiseSettledResult<Preprocessed>[] }> {
  const start = (items: CollectionItem[]) => Promise.allSettled(items.map((item) => pool.decode(item)));
  let next = batches.length > 0 ? start(batches[0]) : null;
  for (let b = 0; b < batches.length; b++) {
    const results = await (next as ReturnType<typeof start>);
    next = b + 1 < batches.length ? start(batches[b + 1]) : null;
    yield { items: batches[b], results };
  }
}

/** Embeds one batch of decoded images: the rows to store, and the images that failed. */
export async function embedBatch(
  em: EmbedModel,
  items: CollectionItem[],
  results: PromiseSettledResult<Preprocessed>[],
): Promise<{ rows: EmbeddingRow[]; failures: EmbedFailure[] }> {
  const failures: EmbedFailure[] = [];
  const good: { item: CollectionItem; still: Preprocessed }[] = [];
  const broken = results.find((r) => r.status === "rejected" && r.reason instanceof DecodePoolError);
  if (broken?.status === "rejected") throw broken.reason;
  results.forEach((r, i) => {
    if (r.status === "fulfilled") good.push({ item: items[i], still: r.value });
    else failures.push({ id: items[i].id, path: items[i].path, message: r.reason instanceof Error ? r.reason.message : String(r.reason) });
  });
  if (good.length === 0) return { rows: [], failures };
  const prepared = preparedFrom(
    em.model.program,
    good.map((g) => g.still),
    good.map((g) => g.item.path),
  );
  const { outputs } = await em.model.run(prepared);
  const vectors = vectorsOf(em.model, outputs, em.output, good.length);
  const rows = good.map(({ item }, i) => ({ id: item.id, path: storedPath(item), extra: item.extra, embedding: vectors[i] }));
  return { rows, failures };
}

export interface PlannedRun {
  collection: Collection;
  store: EmbeddingStore;
  meta: StoreMeta;
  /** In the inputs (and the shard). */
  total: number;
  existing: number;
  todo: CollectionItem[];
}

/** Lists the inputs, opens the database and leaves out what it already holds (and, with a shard, other shards' items). */
export async function planRun(em: EmbedGraph, options: Pick<EmbedOptions, "inputs" | "out" | "format" | "shard">): Promise<PlannedRun> {
  const collection = listCollection(options.inputs);
  const where = options.shard ? shardPath(options.out, options.shard) : options.out;
  const store = await openStore(where, options.format);
  const meta = em.meta(collection.columns);
  try {
    checkMeta(where, await store.meta(), meta);
    const mine = options.shard ? collection.items.filter((i) => inShard(i.id, options.shard as Shard)) : collection.items;
    const done = await store.ids();
    const todo = mine.filter((i) => !done.has(i.id));
    return { collection, store, meta, total: mine.length, existing: mine.length - todo.length, todo };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** The summary of a run that started at `started` (performance.now()) on a planned collection. */
export function runSummary(
  plan: PlannedRun,
  started: number,
  done: Pick<EmbedSummary, "embedded" | "failed" | "batchSize" | "interrupted">,
): EmbedSummary {
  const seconds = (performance.now() - started) / 1000;
  const { where, format } = plan.store;
  return {
    where,
    format,
    total: plan.total,
    existing: plan.existing,
    ...done,
    seconds,
    imagesPerSecond: (done.embedded + done.failed.length) / seconds,
  };
}

/**
 * Embeds every image of a collection into a database, one row per image. Resumable: run again with
 * the same inputs and out, it embeds only what is missing; each batch is stored atomically.
 * Unreadable images are reported (onFailure) and skipped, never stored.
 */
export async function embedCollection(options: EmbedOptions): Promise<EmbedSummary> {
  const em = await loadEmbedModel(options);
  const pool = new DecodePool(em.model.program.preprocess, options.threads);
  const started = performance.now();
  let plan: PlannedRun | null = null;
  try {
    plan = await planRun(em, options);
    const { store, meta, todo } = plan;
    const batchSize = options.batchSize ?? em.model.batchFor(options.memoryBudget ?? DEFAULT_BUDGET, 64);
    if (!(batchSize >= 1)) throw new UsageError(`batch size must be at least 1, got ${batchSize}`);
    options.onPlan?.({ total: plan.total, existing: plan.existing, todo: todo.length, batchSize });
    const batches = Array.from({ length: Math.ceil(todo.length / batchSize) }, (_, b) => todo.slice(b * batchSize, (b + 1) * batchSize));
    const failed: EmbedFailure[] = [];
    let embedded = 0;
    let interrupted = false;
    for await (const { items, results } of decodedBatches(pool, batches)) {
      const { rows, failures } = await embedBatch(em, items, results);
      await store.append(rows, meta);
      embedded += rows.length;
      for (const f of failures) options.onFailure?.(f);
      failed.push(...failures);
      options.onBatch?.(rows.map((r) => r.id));
      const seconds = (performance.now() - started) / 1000;
      const done = embedded + failed.length;
      const rate = done / seconds;
      options.onProgress?.({
        done,
        total: todo.length,
        embedded,
        failed: failed.length,
        imagesPerSecond: rate,
        secondsLeft: (todo.length - done) / rate,
      });
      if (options.signal?.aborted) {
        interrupted = done < todo.length;
        break;
      }
    }
    return runSummary(plan, started, { embedded, failed, batchSize, interrupted });
  } finally {
    await plan?.store.close();
    await pool.close();
    em.model.dispose();
  }
}
