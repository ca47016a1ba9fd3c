import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../core/errors.ts";
import { checkMeta } from "./embed.ts";
import { openExistingStore, openStore } from "./open-store.ts";
import type { StoreFormat } from "./store.ts";

export interface MergeSummary {
  where: string;
  format: StoreFormat;
  shards: number;
  /** Rows added now; rows already in the database are not added twice. */
  added: number;
  rows: number;
}

/**
 * Joins the parts `embed --shard I/N` wrote under `out/shards/` into the database `out`. Every shard of
 * the N must be there and made by the same model; merging again adds nothing twice.
 */
export async function mergeShards(out: string): Promise<MergeSummary> {
  const dir = join(out, "shards");
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => /^\d+-of-\d+$/.test(n)) : [];
  if (names.length === 0)
    throw new InputError(`${dir}: no shards to merge (write them with \`tesserae embed ... --out ${out} --shard I/N\`)`);
  const counts = new Set(names.map((n) => Number(n.split("-of-")[1])));
  if (counts.size > 1) throw new InputError(`${dir} holds shards of different counts (${[...counts].join(", ")}): merge one run's shards`);
  const [count] = counts;
  const missing = Array.from({ length: count }, (_, i) => `${i}-of-${count}`).filter((n) => !names.includes(n));
  if (missing.length > 0)
    throw new InputError(`${dir}: shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} missing: run them first`);
  const parts = await Promise.all(names.sort().map((n) => openExistingStore(join(dir, n))));
  try {
    const metas = await Promise.all(parts.map((p) => p.meta()));
    const meta = metas.find((m) => m !== null);
    if (!meta) throw new InputError(`${dir}: the shards hold no rows`);
    metas.forEach((m, i) => checkMeta(parts[i].where, m, meta));
    const store = await openStore(out, parts[0].format);
    try {
      checkMeta(out, await store.meta(), meta);
      const have = await store.ids();
      let added = 0;
      for (const part of parts) {
        const rows = (await part.rows()).filter((r) => !have.has(r.id));
        for (const r of rows) have.add(r.id);
        await store.append(rows, meta);
        added += rows.length;
      }
      return { where: out, format: store.format, shards: count, added, rows: have.size };
    } finally {
      await store.close();
    }
  } finally {
    await Promise.all(parts.map((p) => p.close()));
  }
}
