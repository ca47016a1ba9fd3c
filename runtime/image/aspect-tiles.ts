import { cutTiles, type RgbImage } from "./image.ts";
import { resize } from "./resample.ts";
import type { ResampleFilter } from "../../core/preprocess.ts";

/** Every (columns, rows) with min <= columns·rows <= max, by tile count (GOT-OCR2's and InternVL's candidates). */
export function tileGrids(min: number, max: number): [number, number][] {
  const grids: [number, number][] = [];
  for (let cols = 1; cols <= max; cols++)
    for (let rows = 1; rows <= max; rows++) if (cols * rows <= max && cols * rows >= min) grids.push([cols, rows]);
  // A stable sort, as Python's sorted is.
  return grids
    .map((g, i) => ({ g, i }))
    .sort((a, b) => a.g[0] * a.g[1] - b.g[0] * b.g[1] || a.i - b.i)
    .map((x) => x.g);
}

/**
 * transformers' get_optimal_tiled_canvas: the grid whose aspect ratio is closest to the image's; on a tie
 * the later (more tiles) one while the image's area is more than half of what its tiles cover.
 */
export function closestGrid(width: number, height: number, tile: number, min: number, max: number): [number, number] {
  const aspect = width / height;
  const area = width * height;
  let best: [number, number] = [1, 1];
  let bestDiff = Number.POSITIVE_INFINITY;
  for (const grid of tileGrids(min, max)) {
    const diff = Math.abs(aspect - grid[0] / grid[1]);
    if (diff < bestDiff) [best, bestDiff] = [grid, diff];
    else if (diff === bestDiff && area > 0.5 * tile * tile * grid[0] * grid[1]) best = grid;
  }
  return best;
}

/**
 * GotOcr2ImageProcessor's crop_to_patches: the image resized to the closest grid of tile x tile tiles and
 * cut row by row, then (when there is more than one tile) the whole image resized to one tile as a thumbnail.
 * With max <= 1, the image resized to one tile.
 */
export function aspectTiles(img: RgbImage, tile: number, min: number, max: number, thumbnail: boolean, filter: ResampleFilter): RgbImage[] {
  if (max <= 1) return [resize(img, tile, tile, filter)];
  const [cols, rows] = closestGrid(img.width, img.height, tile, min, max);
  const views = cutTiles(resize(img, tile * cols, tile * rows, filter), tile);
  if (thumbnail && views.length !== 1) views.push(resize(img, tile, tile, filter));
  return views;
}
