import { UsageError } from "../../core/errors.ts";

/** Shard `index` of `count` (0-based): the items whose id hashes to it. */
export interface Shard {
  index: number;
  count: number;
}

/** FNV-1a of an id's UTF-8 bytes: the same shard for an id on every machine, whatever order it is listed in. */
function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(id, "utf8")) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export const inShard = (id: string, shard: Shard): boolean => idHash(id) % shard.count === shard.index;

/** `I/N` as a shard, or the one a Kubernetes Indexed Job's variables name (JOB_COMPLETION_INDEX, JOB_COMPLETION_COUNT). */
export function parseShard(spec: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | null {
  const fromEnv = env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_COUNT !== undefined;
  const text = spec ?? (fromEnv ? `${env.JOB_COMPLETION_INDEX}/${env.JOB_COMPLETION_COUNT}` : undefined);
  if (text === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const where = spec !== undefined ? `--shard ${spec}` : `JOB_COMPLETION_INDEX/JOB_COMPLETION_COUNT ${text}`;
  if (!m) throw new UsageError(`${where}: give I/N, shard I (from 0) of N`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || index >= count) throw new UsageError(`${where}: the shard must be 0 to ${Math.max(0, count - 1)} of ${count}`);
  return { index, count };
}

/** Where shard I of N writes its part of database `out`: a database of its own, joined by `embed --merge`. */
export const shardPath = (out: string, shard: Shard): string => `${out}/shards/${shard.index}-of-${shard.count}`;
