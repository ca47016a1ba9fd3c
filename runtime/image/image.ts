import { TesseraeError } from "../../core/errors.ts";
/** 8-bit RGB pixels, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image that cannot be read or decoded; the message names the file. */
export class ImageError extends TesseraeError {}

/** A canvas whose sides are multiples of `tile` cut into tile x tile views, row by row. */
export function cutTiles(canvas: RgbImage, tile: number): RgbImage[] {
  const views: RgbImage[] = [];
  for (let ty = 0; ty < canvas.height / tile; ty++) {
    for (let tx = 0; tx < canvas.width / tile; tx++) {
      const data = new Uint8Array(tile * tile * 3);
      for (let y = 0; y < tile; y++) {
        const from = ((ty * tile + y) * canvas.width + tx * tile) * 3;
        data.set(canvas.data.subarray(from, from + tile * 3), y * tile * 3);
      }
      views.push({ width: tile, height: tile, data });
    }
  }
  return views;
}
