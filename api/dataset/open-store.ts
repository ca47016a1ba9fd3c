import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError, UsageError } from "../../core/errors.ts";
import type { EmbeddingStore, StoreFormat } from "./store.ts";

/** The format of an existing database folder, or null when there is none (or it is empty). */
export function storeFormat(where: string): StoreFormat | null {
  if (!existsSync(where)) return null;
  if (!statSync(where).isDirectory()) throw new InputError(`${where}: not a database folder (it is a file)`);
  const entries = readdirSync(where);
  if (entries.some((e) => e.endsWith(".lance"))) return "lance";
  if (entries.some((e) => e.endsWith(".parquet"))) return "parquet";
  return null;
}

/** Opens a database folder for writing, in the format it already has (asking for another is an error). */
export async function openStore(where: string, format: StoreFormat = storeFormat(where) ?? "lance"): Promise<EmbeddingStore> {
  const existing = storeFormat(where);
  if (existing && existing !== format)
    throw new UsageError(`${where} holds ${existing === "lance" ? "a LanceDB table" : "Parquet parts"}; it cannot take ${format} rows`);
  // Each format's library loads only when a database of that format is opened.
  if (format === "lance") return (await import("./lance-store.ts")).LanceStore.open(where);
  return (await import("./parquet-store.ts")).ParquetStore.open(where);
}

/** Opens an existing database for reading; an error naming the folder when there is none. */
export async function openExistingStore(where: string): Promise<EmbeddingStore> {
  const format = storeFormat(where);
  if (!format) throw new InputError(`${where}: no embeddings here (make them with \`tesserae embed <graph> <inputs> --out ${where}\`)`);
  return openStore(join(where), format);
}
