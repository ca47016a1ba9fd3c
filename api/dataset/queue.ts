import { createHash } from "node:crypto";
import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { InputError, UsageError } from "../../core/errors.ts";
import { DecodePool } from "./decode-pool.ts";
import { embedBatch, planRun, runSummary, type EmbedFailure, type EmbedOptions, type EmbedSummary } from "./embed.ts";
import { compileEmbed, type EmbedModelOptions, loadEmbedModel } from "./embed-model.ts";
import type { CollectionItem, ItemValue } from "./items.ts";

/** A Redis server that BullMQ queues live on, and the queue's name. */
export interface QueueOptions {
  /** `redis://host:port` (and `/db`, a password, as ioredis reads them). */
  url: string;
  /** Default `tesserae-embed`; a producer and its workers use the same name. */
  name?: string;
}

interface BatchJob {
  configHash: string;
  items: CollectionItem[];
}

interface BatchResult {
  rows: { id: string; path: string; extra: Record<string, ItemValue>; embedding: string }[];
  failures: EmbedFailure[];
  worker: string;
}

const DEFAULT_NAME = "tesserae-embed";
const BATCH = 16;
const POLL_MS = 100;

function connection(url: string, forWorker: boolean): Redis {
  if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--queue ${url}: give a Redis URL, redis://host:port`);
  const redis = new Redis(url, {
    maxRetriesPerRequest: forWorker ? null : 3,
    lazyConnect: true,
    retryStrategy: (n) => (n > 20 ? null : 250),
  });
  redis.on("error", () => {});
  return redis;
}

async function connected(url: string, forWorker: boolean): Promise<Redis> {
  const redis = connection(url, forWorker);
  try {
    await redis.connect();
    return redis;
  } catch (e) {
    redis.disconnect();
    throw new InputError(`cannot reach Redis at ${url} (${e instanceof Error ? e.message : String(e)})`);
  }
}

const encode = (v: Float32Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
function decode(s: string): Float32Array {
  const b = Buffer.from(s, "base64");
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const jobId = (hash: string, items: readonly CollectionItem[]): string =>
  `${hash}-${createHash("sha1")
    .update(items.map((i) => i.id).join("\n"))
    .digest("hex")
    .slice(0, 16)}`;

export interface QueueEmbedOptions extends Omit<EmbedOptions, "threads" | "shard"> {
  queue: QueueOptions;
}

/**
 * The producer of a queue run: enqueues the items missing from the database in batches, then stores
 * the workers' results as they complete, each row once; a batch a dead worker held is retried by
 * another (BullMQ's stalled-job check). Needs no GPU: the graph is only compiled, for its config hash.
 */
export async function embedWithQueue(options: QueueEmbedOptions): Promise<EmbedSummary> {
  const graph = compileEmbed(options);
  const started = performance.now();
  const redis = await connected(options.queue.url, false);
  const queue = new Queue<BatchJob, BatchResult>(options.queue.name ?? DEFAULT_NAME, { connection: redis });
  const plan = await planRun(graph, { ...options, shard: null });
  const { store, meta } = plan;
  try {
    const batchSize = options.batchSize ?? BATCH;
    options.onPlan?.({ total: plan.total, existing: plan.existing, todo: plan.todo.length, batchSize });
    const have = await store.ids();
    // Batches that failed in an earlier run (a worker with the wrong model, say) are enqueued afresh.
    for (const job of (await queue.getJobs(["failed"])) as Job<BatchJob, BatchResult>[])
      if (job.data.configHash === meta.configHash) await job.remove();
    const pending = new Set<string>();
    for (let b = 0; b < plan.todo.length; b += batchSize) {
      const items = plan.todo.slice(b, b + batchSize);
      const id = jobId(meta.configHash, items);
      pending.add(id);
      await queue.add(
        "batch",
        { configHash: meta.configHash, items },
        { jobId: id, attempts: 3, removeOnFail: false, removeOnComplete: false },
      );
    }
    const failed: EmbedFailure[] = [];
    let embedded = 0;
    let interrupted = false;
    const total = plan.todo.length;
    while (pending.size > 0) {
      const done = (await queue.getJobs(["completed"], 0, 99)) as Job<BatchJob, BatchResult>[];
      for (const job of done) {
        if (!job.id || job.data.configHash !== meta.configHash) continue;
        const rows = job.returnvalue.rows
          .filter((r) => !have.has(r.id))
          .map((r) => ({ id: r.id, path: r.path, extra: r.extra, embedding: decode(r.embedding) }));
        await store.append(rows, meta);
        for (const r of rows) have.add(r.id);
        embedded += rows.length;
        for (const f of job.returnvalue.failures) options.onFailure?.(f);
        failed.push(...job.returnvalue.failures);
        // Removed only once its rows are stored: a producer that dies in between stores them on its next run.
        await job.remove();
        pending.delete(job.id);
        options.onBatch?.(rows.map((r) => r.id));
        const seconds = (performance.now() - started) / 1000;
        const count = embedded + failed.length;
        options.onProgress?.({
          done: count,
          total,
          embedded,
          failed: failed.length,
          imagesPerSecond: count / seconds,
          secondsLeft: ((total - count) * seconds) / count,
        });
      }
      const dead = ((await queue.getJobs(["failed"], 0, 99)) as Job<BatchJob, BatchResult>[]).filter((j) => j.id && pending.has(j.id));
      if (dead.length > 0) throw new InputError(`a batch failed on its workers: ${dead[0].failedReason}`);
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      if (done.length === 0) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return runSummary(plan, started, { embedded, failed, batchSize, interrupted });
  } finally {
    await store.close();
    await queue.close();
    redis.disconnect();
  }
}

export interface QueueWorkerOptions extends EmbedModelOptions {
  queue: QueueOptions;
  threads?: number;
  /** Seconds a batch stays locked to this worker without renewal; after it another worker may take it (default 30). */
  lockSeconds?: number;
  signal?: AbortSignal;
  /** The model is loaded and the worker waits for batches. */
  onReady?: () => void;
  /** A batch taken (its job id and size), and done. */
  onTake?: (job: string, images: number) => void;
  onDone?: (job: string, images: number) => void;
  onWarning?: (message: string) => void;
}

/**
 * A queue worker: loads the model once, then embeds the batches it takes until `signal` aborts;
 * its results go back through the queue to the producer, which stores them.
 */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<{ batches: number; images: number }> {
  const em = await loadEmbedModel(options);
  const hash = em.meta([]).configHash;
  const pool = new DecodePool(em.model.program.preprocess, options.threads);
  const redis = await connected(options.queue.url, true);
  const lock = (options.lockSeconds ?? 30) * 1000;
  let batches = 0;
  let images = 0;
  const worker = new Worker<BatchJob, BatchResult>(
    options.queue.name ?? DEFAULT_NAME,
    async (job) => {
      if (job.data.configHash !== hash)
        throw new UnrecoverableError(
          `worker's model ${em.compiled.name} has config ${hash}, the batch was made for ${job.data.configHash}: start workers with the producer's graph and options`,
        );
      options.onTake?.(String(job.id), job.data.items.length);
      const results = await Promise.allSettled(job.data.items.map((item) => pool.decode(item)));
      const { rows, failures } = await embedBatch(em, job.data.items, results);
      batches++;
      images += job.data.items.length;
      options.onDone?.(String(job.id), job.data.items.length);
      return { rows: rows.map((r) => ({ ...r, embedding: encode(r.embedding) })), failures, worker: String(process.pid) };
    },
    { connection: redis, concurrency: 1, lockDuration: lock, stalledInterval: lock, maxStalledCount: 5, autorun: true },
  );
  await worker.waitUntilReady();
  options.onReady?.();
  try {
    await new Promise<void>((resolve) => {
      worker.on("error", (e) => options.onWarning?.(`queue worker: ${e.message}`));
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener("abort", () => resolve());
    });
    return { batches, images };
  } finally {
    await worker.close();
    redis.disconnect();
    await pool.close();
    em.model.dispose();
  }
}
