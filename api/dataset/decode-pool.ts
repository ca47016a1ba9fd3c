import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { PreprocessStep } from "../../core/preprocess.ts";
import type { Preprocessed } from "../../runtime/preprocess.ts";
import { type DecodeReply, type DecodeTask, decodeItem } from "./decode.ts";
import type { CollectionItem } from "./items.ts";

/** How many decode threads by default: the cores but one (the main thread drives the GPU), at least one. */
export const defaultThreads = (): number => Math.max(1, Math.min(8, availableParallelism() - 1));

// Run from TypeScript sources (a checkout, the tests), the worker registers the same loader first.
const here = import.meta.url;
const fromSources = here.endsWith(".ts");

function startWorker(): Worker {
  if (!fromSources) return new Worker(new URL("./decode-worker.js", here));
  const tsx = pathToFileURL(
    createRequire(here)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const worker = new URL("./decode-worker.ts", here).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(worker)}); });`, {
    eval: true,
  });
}

/** A decode thread failed (not an image): the run cannot go on. */
export class DecodePoolError extends Error {}

interface Pending {
  resolve: (p: Preprocessed) => void;
  reject: (e: Error) => void;
}

/**
 * Decodes and preprocesses images on worker threads (or, with 0 threads, on this one), each item on the
 * least busy thread; results come back as their promises settle, in any order.
 */
export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  constructor(
    private readonly steps: readonly PreprocessStep[],
    threads = defaultThreads(),
  ) {
    for (let w = 0; w < threads; w++) {
      const worker = startWorker();
      worker.unref();
      worker.on("message", (reply: DecodeReply) => {
        this.busy[w]--;
        const p = this.pending.get(reply.seq);
        this.pending.delete(reply.seq);
        if ("ok" in reply) p?.resolve(reply.ok);
        else p?.reject(new Error(reply.error));
      });
      worker.on("error", (e) => this.failAll(e));
      this.workers.push(worker);
      this.busy.push(0);
    }
  }

  decode(item: CollectionItem): Promise<Preprocessed> {
    if (this.workers.length === 0) return decodeItem(item, this.steps);
    const w = this.busy.indexOf(Math.min(...this.busy));
    const seq = this.seq++;
    this.busy[w]++;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.workers[w].postMessage({ seq, item, steps: this.steps } satisfies DecodeTask);
    });
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(new DecodePoolError(`a decode thread failed: ${e.message}`));
    this.pending.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
