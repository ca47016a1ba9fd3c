import { embedCollection, type EmbedPlan, type EmbedSummary } from "../../api/dataset/embed.ts";
import type { EmbedModelOptions } from "../../api/dataset/embed-model.ts";
import { mergeShards } from "../../api/dataset/merge.ts";
import { embedWithQueue, runQueueWorker } from "../../api/dataset/index.ts";
import { parseShard } from "../../api/dataset/shard.ts";
import type { StoreFormat } from "../../api/dataset/store.ts";
import { UsageError } from "../../core/errors.ts";
import { intFlag, one, overrides, parseArgs, type ParsedArgs } from "../args.ts";
import { embedProgress } from "../embed-progress.ts";
import { dtypeFlag, seedOf, warn } from "../load.ts";
import { io } from "../io.ts";

const FLAGS = [
  ...["weights", "preset", "set", "seed", "out", "format", "shard", "batch", "memory", "threads", "output", "dtype"],
  ...["queue", "queue-name", "lock-seconds"],
];

function formatFlag(args: ParsedArgs): StoreFormat | undefined {
  const f = one(args, "format");
  if (f === undefined || f === "lance" || f === "parquet") return f;
  throw new UsageError(`--format must be lance or parquet, got '${f}'`);
}

function positiveFlag(args: ParsedArgs, name: string): number | undefined {
  if (one(args, name) === undefined) return undefined;
  const v = intFlag(args, name, 0);
  if (v < (name === "threads" ? 0 : 1)) throw new UsageError(`--${name} must be at least ${name === "threads" ? 0 : 1}, got ${v}`);
  return v;
}

function modelOptions(args: ParsedArgs, graph: string): EmbedModelOptions {
  return {
    graph,
    weights: one(args, "weights"),
    preset: one(args, "preset"),
    config: overrides(args),
    dtype: dtypeFlag(args),
    seed: seedOf(args),
    output: one(args, "output"),
    onWarning: warn,
  };
}

/**
 * `tesserae embed <graph> --weights DIR --queue URL --worker`: takes batches from the queue until
 * stopped (SIGINT or SIGTERM, after the batch in hand). TESSERAE_FAULT=die-holding-batch makes it
 * kill itself once it holds its first batch: how the tests show that such a batch is retried elsewhere.
 */
async function queueWorker(args: ParsedArgs): Promise<number> {
  const [graph, ...rest] = args.positional;
  const url = one(args, "queue");
  if (!graph || rest.length > 0 || !url)
    throw new UsageError("usage: tesserae embed <graph.tsr> --weights DIR --queue redis://HOST:PORT --worker");
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const die = process.env.TESSERAE_FAULT === "die-holding-batch";
  try {
    const done = await runQueueWorker({
      ...modelOptions(args, graph),
      queue: { url, name: one(args, "queue-name") },
      threads: positiveFlag(args, "threads"),
      lockSeconds: positiveFlag(args, "lock-seconds"),
      signal: controller.signal,
      onReady: () => io().err.write(`worker ${process.pid}: waiting for batches on ${url}\n`),
      onTake: (job, n) => {
        io().err.write(`worker ${process.pid}: took batch ${job} (${n} images)\n`);
        if (die) process.kill(process.pid, "SIGKILL");
      },
      onDone: (job, n) => io().err.write(`worker ${process.pid}: done batch ${job} (${n} images)\n`),
    });
    io().out.write(`worker ${process.pid}: ${done.batches} batches, ${done.images} images\n`);
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

function report(s: EmbedSummary): void {
  const out = io().out;
  const where = `${s.where} (${s.format === "lance" ? "LanceDB" : "Parquet"})`;
  out.write(
    `embedded ${s.embedded} image${s.embedded === 1 ? "" : "s"} into ${where} in ${s.seconds.toFixed(1)} s, ${s.imagesPerSecond.toFixed(1)} images/s, batches of up to ${s.batchSize}\n`,
  );
  if (s.existing > 0) out.write(`${s.existing} of the ${s.total} were already there\n`);
  if (s.failed.length > 0) {
    out.write(`${s.failed.length} unreadable, skipped (not stored):\n`);
    for (const f of s.failed) out.write(`  ${f.path}: ${f.message.replace(`image ${f.path}: `, "")}\n`);
  }
  if (s.interrupted) out.write("interrupted: run the same command again to embed the rest\n");
}

/**
 * `tesserae embed <graph> --weights DIR <inputs>... --out DB`: every image of folders, globs, manifests
 * and WebDataset shards into a database, resumably; `--shard I/N` writes one shard's part, and
 * `tesserae embed --merge --out DB` joins the parts.
 */
export async function embedCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: FLAGS, repeatable: ["set"], switches: ["merge", "worker"] }, "embed");
  if (args.switches.has("worker")) return queueWorker(args);
  const out = one(args, "out");
  if (!out) throw new UsageError("embed needs --out DB (the database folder to write)");
  if (args.switches.has("merge")) {
    if (args.positional.length > 0) throw new UsageError("embed --merge --out DB takes no graph or inputs: it joins DB/shards/*");
    const m = await mergeShards(out);
    io().out.write(`merged ${m.shards} shards into ${m.where}: ${m.added} rows added, ${m.rows} in all\n`);
    return 0;
  }
  const [graph, ...inputs] = args.positional;
  if (!graph || inputs.length === 0) throw new UsageError("usage: tesserae embed <graph.tsr> --weights DIR <inputs>... --out DB");
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    warn("interrupted: storing the batch in flight, then stopping (Ctrl-C again to stop at once)");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  const progress = embedProgress();
  try {
    const common = {
      ...modelOptions(args, graph),
      inputs,
      out,
      format: formatFlag(args),
      batchSize: positiveFlag(args, "batch"),
      signal: controller.signal,
      onProgress: progress.update,
      onPlan: (p: EmbedPlan) =>
        io().err.write(
          `${p.total} image${p.total === 1 ? "" : "s"} in the inputs, ${p.existing} already in ${out}: embedding ${p.todo} in batches of up to ${p.batchSize}\n`,
        ),
    };
    const queue = one(args, "queue");
    if (queue && one(args, "shard")) throw new UsageError("--queue balances the work itself: give it without --shard");
    const summary = queue
      ? await embedWithQueue({ ...common, queue: { url: queue, name: one(args, "queue-name") } })
      : await embedCollection({
          ...common,
          shard: parseShard(one(args, "shard")),
          memoryBudget: positiveFlag(args, "memory") === undefined ? undefined : (positiveFlag(args, "memory") as number) * 2 ** 20,
          threads: positiveFlag(args, "threads"),
        });
    progress.finish();
    report(summary);
    return summary.interrupted ? 130 : 0;
  } finally {
    progress.finish();
    process.off("SIGINT", onSigint);
  }
}
