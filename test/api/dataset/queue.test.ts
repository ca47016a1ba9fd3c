// The queue mode over a real Redis (Debian's redis-server on a loopback port): three workers, one of
// which dies holding a batch; every id ends up embedded exactly once, equal to a single run.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedCollection } from "../../../api/dataset/embed.ts";
import { embedWithQueue } from "../../../api/dataset/queue.ts";
import { generateCollection, rowsOf, type GeneratedCollection } from "../../helpers/collection.ts";
import { reliable } from "../../helpers/reliability.ts";

const CLIP = { graph: "graphs/clip-score.tsr", weights: "test/fixtures/clip-model" };
const IMAGES = 120;

let root: string;
let gen: GeneratedCollection;
let redis: ChildProcess;
let url: string;
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis server answers PING on the port. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      resolve(d.toString().startsWith("+PONG"));
      socket.destroy();
    });
    socket.on("error", () => resolve(false));
  });
}

/** A `tesserae embed --worker` process, and its stderr lines as they come. */
function startWorker(
  env: NodeJS.ProcessEnv = {},
  extra: string[] = [],
): { child: ChildProcess; lines: string[]; line: (re: RegExp) => Promise<string> } {
  const args = [
    "dist/bin/main.js",
    "embed",
    CLIP.graph,
    "--weights",
    CLIP.weights,
    "--queue",
    url,
    "--worker",
    "--lock-seconds",
    "2",
    "--threads",
    "1",
    ...extra,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.push(child);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    for (const l of chunk.toString().split("\n").filter(Boolean)) {
      lines.push(l);
      for (const w of waiters.filter((w) => w.re.test(l))) w.resolve(l);
    }
  });
  const line = (re: RegExp): Promise<string> =>
    new Promise((resolve) => {
      const seen = lines.find((l) => re.test(l));
      if (seen) resolve(seen);
      else waiters.push({ re, resolve });
    });
  return { child, lines, line };
}

beforeAll(async () => {
  execFileSync("redis-server", ["--version"]);
  root = mkdtempSync(join(tmpdir(), "tesserae-queue-"));
  gen = generateCollection(join(root, "photos"), IMAGES, 5);
  const port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  for (let i = 0; i < 100 && !(await pong(port)); i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  redis?.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("queue mode", () => {
  it("three workers, one killed while it holds a batch: every id embedded exactly once, as a single run embeds it", async () => {
    const doomed = startWorker({ TESSERAE_FAULT: "die-holding-batch" });
    await doomed.line(/waiting for batches/);
    const db = join(root, "queued.db");
    const failures: string[] = [];
    const producer = embedWithQueue({
      ...CLIP,
      inputs: [gen.dir],
      out: db,
      batchSize: 8,
      queue: { url },
      onFailure: (f) => failures.push(f.id),
    });
    const took = await doomed.line(/took batch/);
    const held = /took batch (\S+)/.exec(took)?.[1];
    await new Promise((resolve) => doomed.child.on("exit", resolve));
    expect(doomed.child.signalCode).toBe("SIGKILL");
    const workers = [startWorker(), startWorker()];
    const summary = await producer;
    expect(summary).toMatchObject({ embedded: IMAGES + 2, existing: 0, total: IMAGES + 6 });
    expect(failures.sort()).toEqual(gen.corrupt);
    // The batch the dead worker held was done by one of the others.
    expect(workers.some((w) => w.lines.some((l) => l.includes(`done batch ${held}`)))).toBe(true);
    const rows = await rowsOf(db);
    expect(rows.map((r) => r.id)).toEqual(gen.readable);
    const single = join(root, "single.db");
    await embedCollection({ ...CLIP, inputs: [gen.dir], out: single });
    const expected = await rowsOf(single);
    const worst = Math.max(...rows.map((r, i) => r.embedding.reduce((m, v, j) => Math.max(m, Math.abs(v - expected[i].embedding[j])), 0)));
    expect(worst).toBeLessThan(1e-5);
    reliable({
      area: "datasets",
      case: `tesserae embed --queue over Redis: ${IMAGES + 6} images (4 corrupt) in batches of 8, three workers, one killed (SIGKILL) while it holds a batch`,
      tried: 1,
      outcome:
        "the held batch was retried by another worker after its 2 s lock; every readable id stored exactly once, equal to a single run (within 1e-5); the corrupt ones reported",
    });
    // Run again: nothing is missing, nothing is enqueued.
    const again = await embedWithQueue({ ...CLIP, inputs: [gen.dir], out: db, batchSize: 8, queue: { url } });
    expect(again).toMatchObject({ embedded: 0, existing: IMAGES + 2 });
    for (const w of workers) w.child.kill("SIGTERM");
  });

  it("a worker with another config fails the batch, naming both configs; the producer says so, and a rerun with the right workers finishes", async () => {
    const queue = { url, name: "mismatch" };
    const db = join(root, "mismatch.db");
    const small = join(gen.dir, "a");
    const wrong = startWorker({}, ["--queue-name", "mismatch", "--set", "eps=1e-6"]);
    await wrong.line(/waiting for batches/);
    await expect(embedWithQueue({ ...CLIP, inputs: [small], out: db, batchSize: 16, queue })).rejects.toThrow(
      /a batch failed on its workers: worker's model clip_score has config \w+, the batch was made for \w+/,
    );
    wrong.child.kill("SIGTERM");
    const right = startWorker({}, ["--queue-name", "mismatch"]);
    const summary = await embedWithQueue({ ...CLIP, inputs: [small], out: db, batchSize: 16, queue });
    expect(summary.embedded).toBe(gen.readable.filter((id) => id.startsWith("a/")).length);
    right.child.kill("SIGTERM");
  });

  it("a Redis that is not there is named", async () => {
    await expect(
      embedWithQueue({ ...CLIP, inputs: [gen.dir], out: join(root, "x.db"), queue: { url: `redis://127.0.0.1:${await freePort()}` } }),
    ).rejects.toThrow(/cannot reach Redis at redis:\/\/127.0.0.1:\d+/);
  });
});
