// The dataset pipeline on a generated collection: every readable image embedded once, with the vector a
// run of that image alone gives; unreadable ones reported; a killed run resumed, shards merged and a
// search, each equal to what an uninterrupted single run gives.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedCollection, type EmbedSummary } from "../../../api/dataset/embed.ts";
import { openExistingStore } from "../../../api/dataset/open-store.ts";
import { search } from "../../../api/dataset/search.ts";
import type { EmbeddingRow } from "../../../api/dataset/store.ts";
import { compile, load } from "../../../api/index.ts";
import { SafetensorsFile } from "../../../runtime/weights/safetensors.ts";
import { tesserae } from "../../helpers/cli.ts";
import { reliable } from "../../helpers/reliability.ts";
import { generateCollection, rowsOf, type GeneratedCollection } from "../../helpers/collection.ts";

const CLIP = { graph: "graphs/clip-score.tsr", weights: "test/fixtures/clip-model" };
const VIT = { graph: "graphs/vit.tsr", weights: "test/fixtures/vit" };
const IMAGES = 300;

let root: string;
let gen: GeneratedCollection;
let clipDb: string;
let clipRun: EmbeddingRow[];

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

/** The same ids, each once, with vectors within `tol`. */
function expectSameRows(rows: EmbeddingRow[], expected: EmbeddingRow[], tol = 1e-5): void {
  expect(rows.map((r) => r.id)).toEqual(expected.map((r) => r.id));
  expect(Math.max(...rows.map((r, i) => maxDiff(r.embedding, expected[i].embedding)))).toBeLessThan(tol);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "tesserae-embed-"));
  gen = generateCollection(join(root, "photos"), IMAGES);
  clipDb = join(root, "clip.db");
  const failures: string[] = [];
  const summary: EmbedSummary = await embedCollection({ ...CLIP, inputs: [gen.dir], out: clipDb, onFailure: (f) => failures.push(f.id) });
  expect(summary).toMatchObject({ total: IMAGES + 6, existing: 0, embedded: IMAGES + 2, interrupted: false, format: "lance" });
  expect(failures.sort()).toEqual(gen.corrupt);
  clipRun = await rowsOf(clipDb);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("embedCollection", () => {
  it("embeds every readable image once, with the vector a run of the whole CLIP graph on that image alone gives", async () => {
    expect(clipRun.map((r) => r.id)).toEqual(gen.readable);
    const model = await load(compile(CLIP.graph, { weights: CLIP.weights }));
    try {
      let worst = 0;
      for (const row of clipRun) {
        const { outputs } = await model.score([join(gen.dir, row.id)], ["a photo"]);
        worst = Math.max(worst, maxDiff(row.embedding, outputs.image_embeds.data));
      }
      expect(worst).toBeLessThan(1e-5);
    } finally {
      model.dispose();
    }
    const store = await openExistingStore(clipDb);
    expect(await store.meta()).toMatchObject({
      model: "clip_score",
      dim: 24,
      source: { graph: "graphs/clip-score.tsr", output: "image_embeds" },
    });
    await store.close();
    expect(clipRun[0].path).toBe(join(gen.dir, clipRun[0].id));
  });

  it("run again, embeds nothing that is there; the unreadable ones are reported again", async () => {
    const failures: string[] = [];
    const again = await embedCollection({ ...CLIP, inputs: [gen.dir], out: clipDb, onFailure: (f) => failures.push(f.path) });
    expect(again).toMatchObject({ total: IMAGES + 6, existing: IMAGES + 2, embedded: 0 });
    expect(failures.sort()).toEqual(gen.corrupt.map((id) => join(gen.dir, id)));
    expect((await rowsOf(clipDb)).length).toBe(IMAGES + 2);
  });

  it("refuses a database another model made", async () => {
    await expect(embedCollection({ ...VIT, inputs: [gen.dir], out: clipDb })).rejects.toThrow(
      /holds embeddings of clip_score .* write them to another --out/,
    );
  });

  it("a run killed midway (SIGKILL after its first batch) and started again ends equal to an uninterrupted run", async () => {
    const db = join(root, "killed.db");
    const args = [
      "dist/bin/main.js",
      "embed",
      CLIP.graph,
      "--weights",
      CLIP.weights,
      gen.dir,
      "--out",
      db,
      "--batch",
      "16",
      "--threads",
      "1",
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    const killed = await new Promise<boolean>((resolve) => {
      child.stderr.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("embedded ")) child.kill("SIGKILL");
      });
      child.on("exit", (_code, signal) => resolve(signal === "SIGKILL"));
    });
    expect(killed).toBe(true);
    const partial = (await rowsOf(db)).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(IMAGES);
    const resumed = await tesserae("embed", CLIP.graph, "--weights", CLIP.weights, gen.dir, "--out", db);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`embedded ${IMAGES + 2 - partial} images`);
    expect(resumed.stdout).toContain(`${partial} of the ${IMAGES + 6} were already there`);
    for (const id of gen.corrupt) expect(resumed.stdout).toContain(join(gen.dir, id));
    expectSameRows(await rowsOf(db), clipRun);
    reliable({
      area: "datasets",
      case: `tesserae embed of ${IMAGES + 6} generated images (4 corrupt) into LanceDB, SIGKILLed after its first stored batch of 16, then run again`,
      tried: 1,
      outcome: `${partial} rows survived the kill, none twice; the second run embedded the other ${IMAGES + 2 - partial} and the database equals an uninterrupted run's (ids, vectors within 1e-5)`,
    });
  });

  it("shards 0/2 and 1/2, merged, equal a single run; missing shards are named", async () => {
    const db = join(root, "sharded.db");
    const parts = await Promise.all(
      [0, 1].map((index) => embedCollection({ ...CLIP, inputs: [gen.dir], out: db, shard: { index, count: 2 } })),
    );
    expect(parts[0].total + parts[1].total).toBe(IMAGES + 6);
    expect(parts[0].total).toBeGreaterThan(100);
    const merged = await tesserae("embed", "--merge", "--out", db);
    expect(merged.stderr).toBe("");
    expect(merged.stdout).toContain(`merged 2 shards into ${db}: ${IMAGES + 2} rows added`);
    expectSameRows(await rowsOf(db), clipRun);
    const again = await tesserae("embed", "--merge", "--out", db);
    expect(again.stdout).toContain("0 rows added");
    const lone = join(root, "lone.db");
    await embedCollection({ ...CLIP, inputs: [join(gen.dir, "a")], out: lone, shard: { index: 2, count: 3 } });
    const refused = await tesserae("embed", "--merge", "--out", lone);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("shards 0-of-3, 1-of-3 missing");
  });
});

describe("the ViT fixture into Parquet, through the CLI", () => {
  it("equals `tesserae run` on the same images", async () => {
    const db = join(root, "vit.parquet");
    const r = await tesserae("embed", VIT.graph, "--weights", VIT.weights, gen.dir, "--out", db, "--format", "parquet", "--batch", "40");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`embedded ${IMAGES + 2} images into ${db} (Parquet) in`);
    expect(r.stdout).toContain("4 unreadable, skipped (not stored):");
    const rows = await rowsOf(db);
    expect(rows.map((x) => x.id)).toEqual(gen.readable);
    // Every row against a run of the whole graph on that image alone.
    const model = await load(compile(VIT.graph, { weights: VIT.weights }));
    try {
      let worst = 0;
      for (const row of rows)
        worst = Math.max(worst, maxDiff(row.embedding, (await model.run([join(gen.dir, row.id)])).outputs.image_embeds.data));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      model.dispose();
    }
    // One `tesserae run` of three of the images (a batch of three: each row is that image's vector).
    const picked = [rows[0], rows[150], rows[rows.length - 1]];
    const out = join(root, "vit-run.safetensors");
    const run = await tesserae(
      "run",
      VIT.graph,
      "--weights",
      VIT.weights,
      ...picked.flatMap((r) => ["--image", join(gen.dir, r.id)]),
      "--out",
      out,
      "--runs",
      "1",
    );
    expect(run.code).toBe(0);
    const f = SafetensorsFile.open(out);
    const embeds = f.read("image_embeds");
    f.close();
    const width = embeds.shape[1];
    picked.forEach((row, i) => expect(maxDiff(row.embedding, embeds.data.slice(i * width, (i + 1) * width))).toBeLessThan(1e-5));
  });
});

describe("manifests and WebDataset shards", () => {
  it("keep their extra columns in the rows (LanceDB and Parquet); a shard's images read from their offsets", async () => {
    const picked = gen.readable.slice(0, 6);
    const manifest = join(root, "picked.jsonl");
    writeFileSync(
      manifest,
      picked.map((id, i) => JSON.stringify({ id: `m${i}`, path: `photos/${id}`, label: `L${i % 2}`, rank: i })).join("\n"),
    );
    const stage = join(root, "wds");
    mkdirSync(stage, { recursive: true });
    for (const [i, id] of picked.entries()) {
      copyFileSync(join(gen.dir, id), join(stage, `s${i}.png`));
      writeFileSync(join(stage, `s${i}.cls`), String(i));
    }
    const shard = join(root, "shard-000.tar");
    execFileSync("tar", ["-cf", shard, "-C", stage, "."]);
    for (const format of ["lance", "parquet"] as const) {
      const db = join(root, `manifest.${format}`);
      const summary = await embedCollection({ ...VIT, inputs: [manifest, shard], out: db, format, threads: 0 });
      expect(summary.embedded).toBe(12);
      const rows = await rowsOf(db);
      expect(rows.find((r) => r.id === "m3")?.extra).toEqual({ label: "L1", rank: 3, cls: null });
      const fromShard = rows.find((r) => r.id === "s3");
      expect(fromShard?.extra).toEqual({ label: null, rank: null, cls: "3" });
      expect(fromShard?.path).toBe(`${shard}:./s3.png`);
      // The same picture from a file and from the shard: the same vector.
      expect(maxDiff(fromShard?.embedding as Float32Array, rows.find((r) => r.id === "m3")?.embedding as Float32Array)).toBe(0);
    }
  });
});

describe("search", () => {
  it("every image's own embedding finds that image first", async () => {
    const store = await openExistingStore(clipDb);
    try {
      for (const row of clipRun) expect((await store.search(row.embedding, 1))[0].id).toBe(row.id);
    } finally {
      await store.close();
    }
    const hit = await search({ db: clipDb, image: join(gen.dir, clipRun[7].id), k: 3 });
    expect(hit.hits[0]).toMatchObject({ id: clipRun[7].id });
    expect(hit.hits[0].score).toBeCloseTo(1, 5);
  });

  it("by text: ranked by the same scores `tesserae score` gives, with a table and JSON from the CLI", async () => {
    const text = "a red and green gradient";
    const { hits } = await search({ db: clipDb, text, k: IMAGES + 2 });
    const images = clipRun.map((r) => join(gen.dir, r.id));
    const out = join(root, "scores.safetensors");
    const scored = await tesserae(
      "score",
      CLIP.graph,
      "--weights",
      CLIP.weights,
      ...images.flatMap((p) => ["--image", p]),
      "--text",
      text,
      "--out",
      out,
    );
    expect(scored.code).toBe(0);
    const f = SafetensorsFile.open(out);
    const logits = f.read("logits_per_image").data;
    f.close();
    const byScore = clipRun.map((r, i) => ({ id: r.id, logit: logits[i] })).sort((a, b) => b.logit - a.logit);
    expect(hits.map((h) => h.id)).toEqual(byScore.map((s) => s.id));
    // Cosine similarity times exp(logit_scale): one factor for every row.
    const factor = byScore[0].logit / hits[0].score;
    for (const [i, h] of hits.entries()) expect(Math.abs(h.score * factor - byScore[i].logit)).toBeLessThan(1e-4);
    const table = await tesserae("search", clipDb, "--text", text, "-k", "3");
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/rank\s+score\s+id\s+path/);
    expect(lines[1]).toContain(hits[0].id);
    expect(lines.length).toBe(4);
    const json = await tesserae("search", clipDb, "--image", join(gen.dir, clipRun[3].id), "-k", "2", "--json");
    expect(JSON.parse(json.stdout).hits[0].id).toBe(clipRun[3].id);
  });

  it("text search on a database of an image-only graph says which graphs have a text tower", async () => {
    const db = join(root, "vit-small.db");
    await embedCollection({ ...VIT, inputs: [join(gen.dir, "jpeg")], out: db });
    await expect(search({ db, text: "a cat" })).rejects.toThrow(/no text tower .* graphs\/clip-score.tsr/);
    const none = await tesserae("search", join(root, "nothing-here"), "--text", "x");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no embeddings here");
  });
});
