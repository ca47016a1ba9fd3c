import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { InputError } from "../../core/errors.ts";
import type { ItemValue } from "./items.ts";
import { cosine, type EmbeddingRow, type EmbeddingStore, type Hit, type StoreMeta } from "./store.ts";

const META_KEY = "tesserae";
const isPart = (name: string): boolean => name.startsWith("part-") && name.endsWith(".parquet");

type Record_ = Record<string, unknown>;

/**
 * Parquet shards in a folder, one per appended batch (`part-<writer>-<n>.parquet`), each written under a
 * temporary name and renamed into place, so a half-written batch is never a part. The model's name,
 * config hash and the columns are in every part's key-value metadata.
 */
export class ParquetStore implements EmbeddingStore {
  readonly format = "parquet";
  private readonly writer = randomBytes(4).toString("hex");
  private written = 0;

  private constructor(readonly where: string) {}

  static async open(where: string): Promise<ParquetStore> {
    mkdirSync(where, { recursive: true });
    // What an interrupted writer left: never renamed, so never part of the data.
    for (const f of readdirSync(where)) if (f.startsWith(".tmp-")) rmSync(join(where, f), { force: true });
    return new ParquetStore(where);
  }

  private parts(): string[] {
    return readdirSync(this.where).filter(isPart).sort();
  }

  private async read(part: string, columns?: string[]): Promise<Record_[]> {
    const file = await asyncBufferFromFile(join(this.where, part));
    try {
      return (await parquetReadObjects({ file, columns })) as Record_[];
    } catch (e) {
      throw new InputError(`${join(this.where, part)}: not a readable Parquet file (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  async meta(): Promise<StoreMeta | null> {
    const [first] = this.parts();
    if (!first) return null;
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(join(this.where, first)));
    const value = metadata.key_value_metadata?.find((kv) => kv.key === META_KEY)?.value;
    if (!value) throw new InputError(`${join(this.where, first)}: a Parquet file without Tesserae's metadata`);
    return JSON.parse(value) as StoreMeta;
  }

  async ids(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const part of this.parts()) for (const r of await this.read(part, ["id"])) ids.add(String(r.id));
    return ids;
  }

  async append(rows: readonly EmbeddingRow[], meta: StoreMeta): Promise<void> {
    if (rows.length === 0) return;
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: "id", data: rows.map((r) => r.id) },
        { name: "path", data: rows.map((r) => r.path) },
        ...meta.columns.map((c) => ({ name: c.name, data: rows.map((r) => r.extra[c.name] ?? null) })),
        { name: "embedding", data: rows.map((r) => Array.from(r.embedding)) },
        { name: "model", data: rows.map(() => meta.model) },
        { name: "config_hash", data: rows.map(() => meta.configHash) },
      ],
      schema: [
        { name: "root", num_children: 5 + meta.columns.length },
        { name: "id", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
        { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
        ...meta.columns.map((c) =>
          c.type === "number"
            ? { name: c.name, type: "DOUBLE" as const, repetition_type: "OPTIONAL" as const }
            : c.type === "boolean"
              ? { name: c.name, type: "BOOLEAN" as const, repetition_type: "OPTIONAL" as const }
              : { name: c.name, type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const, repetition_type: "OPTIONAL" as const },
        ),
        { name: "embedding", repetition_type: "REQUIRED", num_children: 1, converted_type: "LIST" },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", type: "FLOAT", repetition_type: "REQUIRED" },
        { name: "model", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
        { name: "config_hash", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
      ],
      kvMetadata: [{ key: META_KEY, value: JSON.stringify(meta) }],
    });
    const name = `part-${this.writer}-${String(this.written++).padStart(6, "0")}.parquet`;
    const tmp = join(this.where, `.tmp-${name}`);
    writeFileSync(tmp, new Uint8Array(buffer));
    renameSync(tmp, join(this.where, name));
  }

  async rows(): Promise<EmbeddingRow[]> {
    const meta = await this.meta();
    const columns = meta?.columns.map((c) => c.name) ?? [];
    const out: EmbeddingRow[] = [];
    for (const part of this.parts())
      for (const r of await this.read(part))
        out.push({
          id: String(r.id),
          path: String(r.path),
          extra: Object.fromEntries(columns.map((c) => [c, (r[c] ?? null) as ItemValue])),
          embedding: Float32Array.from(r.embedding as number[]),
        });
    return out;
  }

  async row(id: string): Promise<EmbeddingRow | null> {
    return (await this.rows()).find((r) => r.id === id) ?? null;
  }

  async search(vector: Float32Array, k: number): Promise<Hit[]> {
    const scored = (await this.rows()).map((r) => ({ id: r.id, path: r.path, extra: r.extra, score: cosine(vector, r.embedding) }));
    return scored.sort((a, b) => b.score - a.score).slice(0, k);
  }

  async close(): Promise<void> {}
}
