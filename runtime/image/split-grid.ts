import { cutTiles, type RgbImage } from "./image.ts";
import { resize } from "./resample.ts";
import type { ResampleFilter } from "../../core/preprocess.ts";

/**
 * Idefics3's _resize_output_size_rescale_to_max_len: the long side becomes `size`, the short one
 * int(size / aspect ratio), plus one when odd if `even`; at least 1. Returns (width, height).
 */
export function longestEdgeSize(width: number, height: number, size: number, even: boolean): [number, number] {
  const aspect = width / height;
  let [w, h] = [width, height];
  if (width >= height) {
    w = size;
    h = Math.trunc(w / aspect);
    if (even && h % 2 !== 0) h += 1;
  } else {
    h = size;
    w = Math.trunc(h * aspect);
    if (even && w % 2 !== 0) w += 1;
  }
  return [Math.max(w, 1), Math.max(h, 1)];
}

/**
 * Idefics3's resize_for_vision_encoder: the long side up to a multiple of `tile`, the short one
 * int(long / aspect ratio) and then up to a multiple of `tile` too. Returns (width, height).
 */
export function tileMultipleSize(width: number, height: number, tile: number): [number, number] {
  const aspect = width / height;
  const up = (n: number): number => Math.ceil(n / tile) * tile;
  if (width >= height) {
    const w = up(width);
    return [w, up(Math.trunc(w / aspect))];
  }
  const h = up(height);
  return [up(Math.trunc(h * aspect)), h];
}

/**
 * Idefics3's split_images after resize_for_vision_encoder: tiles row by row and the global view (the
 * whole image resized to one tile), or the image alone when it is one tile. `grid` is (columns, rows),
 * (0, 0) when not split, as the processor's rows and cols give it. Without `split` (do_image_splitting
 * off), the image resized to one tile.
 */
export function splitGrid(
  img: RgbImage,
  tile: number,
  split: boolean,
  filter: ResampleFilter,
): { views: RgbImage[]; grid: [number, number] } {
  if (!split) return { views: [resize(img, tile, tile, filter)], grid: [0, 0] };
  const [w, h] = tileMultipleSize(img.width, img.height, tile);
  const canvas = resize(img, w, h, filter);
  if (w <= tile && h <= tile) return { views: [canvas], grid: [0, 0] };
  return { views: [...cutTiles(canvas, tile), resize(canvas, tile, tile, filter)], grid: [w / tile, h / tile] };
}
