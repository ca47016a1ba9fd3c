import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PNG } from "pngjs";
import { openExistingStore } from "../../api/dataset/open-store.ts";
import type { EmbeddingRow } from "../../api/dataset/store.ts";
import { rng } from "../../runtime/weights/random.ts";

export interface GeneratedCollection {
  dir: string;
  /** Ids (paths inside `dir`) of the images that decode, sorted. */
  readable: string[];
  /** Ids of the files that do not. */
  corrupt: string[];
}

function png(width: number, height: number, rand: () => number): Buffer {
  const img = new PNG({ width, height });
  const [r0, g0, b0] = [rand(), rand(), rand()].map((v) => Math.floor(v * 255));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      img.data[i] = (r0 + (x * 255) / width) % 256;
      img.data[i + 1] = (g0 + (y * 255) / height) % 256;
      img.data[i + 2] = (b0 + rand() * 64) % 256;
      img.data[i + 3] = 255;
    }
  return PNG.sync.write(img);
}

/**
 * `count` small PNGs of mixed sizes (8 to 63 pixels a side) in nested folders, two JPEGs, and four files
 * that do not decode (truncated, not an image, empty, a PNG header only), all made from one seed.
 */
export function generateCollection(dir: string, count: number, seed = 1): GeneratedCollection {
  const rand = rng(seed);
  const readable: string[] = [];
  const put = (id: string, bytes: Uint8Array): void => {
    mkdirSync(dirname(join(dir, id)), { recursive: true });
    writeFileSync(join(dir, id), bytes);
  };
  for (let i = 0; i < count; i++) {
    const id = `${["a", "b/c", "b/d"][i % 3]}/img-${String(i).padStart(4, "0")}.png`;
    put(id, png(8 + Math.floor(rand() * 56), 8 + Math.floor(rand() * 56), rand));
    readable.push(id);
  }
  for (const jpeg of ["small.jpg", "exif-6.jpg"]) {
    mkdirSync(join(dir, "jpeg"), { recursive: true });
    copyFileSync(join("test/fixtures/images", jpeg), join(dir, "jpeg", jpeg));
    readable.push(`jpeg/${jpeg}`);
  }
  const whole = png(20, 20, rand);
  const corrupt = ["broken/truncated.png", "broken/text.jpg", "broken/empty.png", "broken/header-only.png"];
  put(corrupt[0], whole.subarray(0, whole.length >> 1));
  put(corrupt[1], new TextEncoder().encode("not a JPEG at all"));
  put(corrupt[2], new Uint8Array(0));
  put(corrupt[3], whole.subarray(0, 33));
  return { dir, readable: readable.sort(), corrupt: corrupt.sort() };
}

/** Every row of a database, by id. */
export async function rowsOf(db: string): Promise<EmbeddingRow[]> {
  const store = await openExistingStore(db);
  try {
    return (await store.rows()).sort((a, b) => (a.id < b.id ? -1 : 1));
  } finally {
    await store.close();
  }
}
