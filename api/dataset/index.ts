// Collections: embed every image of folders, globs, manifests and WebDataset shards into a database,
// resumably and across machines, and search it by text or image.
import type { EmbedSummary } from "./embed.ts";
import type { QueueEmbedOptions, QueueWorkerOptions } from "./queue.ts";

export {
  embedCollection,
  type EmbedFailure,
  type EmbedOptions,
  type EmbedPlan,
  type EmbedProgress,
  type EmbedSummary,
} from "./embed.ts";
export type { EmbedModelOptions } from "./embed-model.ts";
export { listCollection, type Collection, type CollectionItem, type ItemValue } from "./items.ts";
export { mergeShards, type MergeSummary } from "./merge.ts";
export { search, type SearchOptions, type SearchResult } from "./search.ts";
export { parseShard, shardPath, type Shard } from "./shard.ts";
export type { EmbedSource, Hit, StoreFormat, StoreMeta } from "./store.ts";
export type { QueueEmbedOptions, QueueOptions, QueueWorkerOptions } from "./queue.ts";

/** The producer of a queue run (BullMQ over Redis); BullMQ loads only when a queue is used. */
export async function embedWithQueue(options: QueueEmbedOptions): Promise<EmbedSummary> {
  return (await import("./queue.ts")).embedWithQueue(options);
}

/** A queue worker: embeds the batches it takes until `options.signal` aborts. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<{ batches: number; images: number }> {
  return (await import("./queue.ts")).runQueueWorker(options);
}
