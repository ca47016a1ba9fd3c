import { Bool, Field, FixedSizeList, Float32, Float64, Schema, Utf8, type DataType } from "apache-arrow";
import { connect, type Connection, type Table } from "@lancedb/lancedb";
import { InputError } from "../../core/errors.ts";
import type { ColumnType, ItemValue } from "./items.ts";
import type { EmbeddingRow, EmbeddingStore, Hit, StoreMeta } from "./store.ts";

const TABLE = "embeddings";

const arrowType = (t: ColumnType): DataType => (t === "number" ? new Float64() : t === "boolean" ? new Bool() : new Utf8());

const META_KEY = "tesserae";

function schemaOf(meta: StoreMeta): Schema {
  const fields = [
    new Field("id", new Utf8(), false),
    new Field("path", new Utf8(), false),
    ...meta.columns.map((c) => new Field(c.name, arrowType(c.type), true)),
    new Field("embedding", new FixedSizeList(meta.dim, new Field("item", new Float32(), true)), false),
    new Field("model", new Utf8(), false),
    new Field("config_hash", new Utf8(), false),
  ];
  return new Schema(fields, new Map([[META_KEY, JSON.stringify(meta)]]));
}

type LanceRecord = Record<string, unknown>;

function extraOf(r: LanceRecord, columns: string[]): Record<string, ItemValue> {
  return Object.fromEntries(columns.map((c) => [c, (r[c] ?? null) as ItemValue]));
}

/** A LanceDB database (a folder): one table `embeddings`, one row per image; each append is one Lance commit. */
export class LanceStore implements EmbeddingStore {
  readonly format = "lance";
  private table: Table | null;

  private constructor(
    readonly where: string,
    private readonly db: Connection,
    table: Table | null,
  ) {
    this.table = table;
  }

  static async open(where: string): Promise<LanceStore> {
    const db = await connect(where);
    const table = (await db.tableNames()).includes(TABLE) ? await db.openTable(TABLE) : null;
    return new LanceStore(where, db, table);
  }

  async meta(): Promise<StoreMeta | null> {
    if (!this.table) return null;
    const value = (await this.table.schema()).metadata.get(META_KEY);
    if (!value) throw new InputError(`${this.where}: a LanceDB table '${TABLE}' that Tesserae did not write`);
    return JSON.parse(value) as StoreMeta;
  }

  async ids(): Promise<Set<string>> {
    if (!this.table) return new Set();
    const rows = (await this.table.query().select(["id"]).toArray()) as LanceRecord[];
    return new Set(rows.map((r) => String(r.id)));
  }

  async append(rows: readonly EmbeddingRow[], meta: StoreMeta): Promise<void> {
    if (rows.length === 0) return;
    if (!this.table) this.table = await this.db.createEmptyTable(TABLE, schemaOf(meta), { existOk: true });
    await this.table.add(
      rows.map((r) => ({
        id: r.id,
        path: r.path,
        ...Object.fromEntries(meta.columns.map((c) => [c.name, r.extra[c.name] ?? null])),
        embedding: Array.from(r.embedding),
        model: meta.model,
        config_hash: meta.configHash,
      })),
    );
  }

  private async extraColumns(): Promise<string[]> {
    return ((await this.meta())?.columns ?? []).map((c) => c.name);
  }

  async rows(): Promise<EmbeddingRow[]> {
    return this.rowsWhere();
  }

  async row(id: string): Promise<EmbeddingRow | null> {
    return (await this.rowsWhere(`id = '${id.replaceAll("'", "''")}'`))[0] ?? null;
  }

  private async rowsWhere(filter?: string): Promise<EmbeddingRow[]> {
    if (!this.table) return [];
    const columns = await this.extraColumns();
    const query = this.table.query();
    const records = (await (filter ? query.where(filter) : query).toArray()) as LanceRecord[];
    return records.map((r) => ({
      id: String(r.id),
      path: String(r.path),
      extra: extraOf(r, columns),
      embedding: Float32Array.from(r.embedding as Iterable<number>),
    }));
  }

  async search(vector: Float32Array, k: number): Promise<Hit[]> {
    if (!this.table) return [];
    const columns = await this.extraColumns();
    const records = (await this.table.vectorSearch(Array.from(vector)).distanceType("cosine").limit(k).toArray()) as LanceRecord[];
    return records.map((r) => ({ id: String(r.id), path: String(r.path), score: 1 - Number(r._distance), extra: extraOf(r, columns) }));
  }

  async close(): Promise<void> {
    this.table?.close();
    this.db.close();
  }
}
