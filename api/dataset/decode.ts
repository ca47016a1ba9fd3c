import type { PreprocessStep } from "../../core/preprocess.ts";
import { decodeImage } from "../../runtime/image/decode.ts";
import { preprocessImage, type Preprocessed } from "../../runtime/preprocess.ts";
import { type CollectionItem, itemBytes } from "./items.ts";

/** What a decode worker is asked: one item, with the graph's preprocessing steps. */
export interface DecodeTask {
  seq: number;
  item: CollectionItem;
  steps: readonly PreprocessStep[];
}

export type DecodeReply = { seq: number; ok: Preprocessed } | { seq: number; error: string };

/** Reads, decodes and preprocesses one item as `tesserae run` does a single image. */
export async function decodeItem(item: CollectionItem, steps: readonly PreprocessStep[]): Promise<Preprocessed> {
  let bytes: Uint8Array;
  try {
    bytes = itemBytes(item);
  } catch (e) {
    const code = e instanceof Error && "code" in e ? String(e.code) : "";
    throw new Error(`image ${item.path}: cannot read (${code === "ENOENT" ? "no such file" : e instanceof Error ? e.message : String(e)})`);
  }
  return preprocessImage(steps, await decodeImage(bytes, item.path), item.path, { cropping: true });
}

/** Buffers of a preprocessed image, handed to the receiving thread instead of copied. */
export function transferables(p: Preprocessed): ArrayBuffer[] {
  const tensors = [p.tensor, ...Object.values(p.branches ?? {})];
  return tensors.map((t) => t.data.buffer as ArrayBuffer);
}
