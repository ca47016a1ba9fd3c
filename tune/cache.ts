// Tuned kernel choices, one table per adapter, in one JSON file:
// $TESSERAE_TUNING, or $XDG_CACHE_HOME/tesserae/tuning.json (~/.cache/tesserae/tuning.json).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { candidatesFor } from "../compiler/kernels/index.ts";
import {
  ATTENTION_CANDIDATES,
  GPU_ATTENTION_CANDIDATES,
  GPU_TILING_CANDIDATES,
  TILING_CANDIDATES,
  tilingName,
  type KernelTarget,
  type KernelTiling,
} from "../compiler/codegen/tiling.ts";

/** One tuned kernel shape: the tiling chosen and what each candidate measured (GPU ms, summed over the kernels with this key). */
export interface TunedChoice {
  tiling: KernelTiling;
  measured: Record<string, number>;
  graph: string;
  date: string;
}

interface CacheFile {
  version: 1;
  adapters: Record<string, Record<string, TunedChoice>>;
}

export function tuningCachePath(): string {
  if (process.env.TESSERAE_TUNING) return process.env.TESSERAE_TUNING;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tesserae", "tuning.json");
}

const KNOWN = new Map(
  [...TILING_CANDIDATES, ...ATTENTION_CANDIDATES, ...GPU_TILING_CANDIDATES, ...GPU_ATTENTION_CANDIDATES].map((t) => [tilingName(t), t]),
);

function readCache(path: string): CacheFile {
  if (!existsSync(path)) return { version: 1, adapters: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`tuning cache ${path} is not valid JSON (${(e as Error).message}); delete it to tune again`);
  }
  const file = parsed as Partial<CacheFile>;
  if (file.version !== 1 || typeof file.adapters !== "object" || file.adapters === null) {
    throw new Error(`tuning cache ${path} has an unknown format; delete it to tune again`);
  }
  return file as CacheFile;
}

/**
 * The tuned tilings for this adapter. Entries whose tiling is not one of the current candidates (a
 * cache written by another version) are left out, and so, given the target, are entries measured
 * without some of the target's current candidates (tuned before a better one existed): their kernels
 * get the defaults until they are tuned again.
 */
export function loadTilings(
  adapter: string,
  path = tuningCachePath(),
  target?: KernelTarget,
): { table: Map<string, KernelTiling>; choices: Record<string, TunedChoice> } {
  const choices = readCache(path).adapters[adapter] ?? {};
  const table = new Map<string, KernelTiling>();
  for (const [key, choice] of Object.entries(choices)) {
    const known = KNOWN.get(tilingName(choice.tiling));
    const stale = target !== undefined && candidatesFor(key, target).some((t) => !(tilingName(t) in choice.measured));
    if (known && !stale) table.set(key, known);
  }
  return { table, choices };
}

/** Adds (or replaces) this adapter's choices; the file is written whole, through a temporary file. */
export function saveTilings(adapter: string, choices: Record<string, TunedChoice>, path = tuningCachePath()): void {
  const file = readCache(path);
  file.adapters[adapter] = { ...(file.adapters[adapter] ?? {}), ...choices };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}
