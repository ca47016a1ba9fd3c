import type { ColumnType, ItemValue } from "./items.ts";

/** One stored embedding: the image's id and path, the manifest's extra columns, the vector. */
export interface EmbeddingRow {
  id: string;
  path: string;
  extra: Record<string, ItemValue>;
  embedding: Float32Array;
}

/** How the vectors were made: enough to compile the same graph again (search does, for its queries). */
export interface EmbedSource {
  /** A bundled graph (`graphs/NAME.tsr`) or a graph file's absolute path. */
  graph: string;
  /** The checkpoint folder's absolute path (null: seeded random weights). */
  weights: string | null;
  preset: string | null;
  config: Record<string, string>;
  /** The graph output each vector is (image_embeds). */
  output: string;
  dtype: "f32" | "f16";
}

/** What every row of a database shares: which model made the vectors, and their width. */
export interface StoreMeta {
  model: string;
  /** A hash of the graph's config, preprocessing and output: rows made otherwise are not comparable. */
  configHash: string;
  dim: number;
  columns: { name: string; type: ColumnType }[];
  source: EmbedSource;
}

/** A search result: a row and its cosine similarity to the query. */
export interface Hit {
  id: string;
  path: string;
  score: number;
  extra: Record<string, ItemValue>;
}

export type StoreFormat = "lance" | "parquet";

/** Where embeddings are kept. Appends are atomic: after a crash a batch is there whole or not at all. */
export interface EmbeddingStore {
  readonly format: StoreFormat;
  readonly where: string;
  /** The meta of the rows already there (null when empty). */
  meta(): Promise<StoreMeta | null>;
  ids(): Promise<Set<string>>;
  append(rows: readonly EmbeddingRow[], meta: StoreMeta): Promise<void>;
  rows(): Promise<EmbeddingRow[]>;
  /** The row of an id, or null. */
  row(id: string): Promise<EmbeddingRow | null>;
  /** The k rows most similar to a vector (cosine), best first. */
  search(vector: Float32Array, k: number): Promise<Hit[]>;
  close(): Promise<void>;
}

/** Cosine similarity of two vectors. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
