import { cutTiles, type RgbImage } from "./image.ts";
import { pythonRound } from "./qwen.ts";
import { resize } from "./resample.ts";

/** DeepSeek-VL2's candidate resolutions (width, height): every (m·384, n·384) with m·n <= 9, in the shipped order. */
export const DEEPSEEK_VL2_CANDIDATES: readonly [number, number][] = [
  [384, 384],
  [384, 768],
  [768, 384],
  [384, 1152],
  [1152, 384],
  [384, 1536],
  [1536, 384],
  [768, 768],
  [384, 1920],
  [1920, 384],
  [384, 2304],
  [2304, 384],
  [768, 1152],
  [1152, 768],
  [384, 2688],
  [2688, 384],
  [384, 3072],
  [3072, 384],
  [768, 1536],
  [1536, 768],
  [384, 3456],
  [3456, 384],
  [1152, 1152],
];

/**
 * select_best_resolution: the candidate that keeps the most of the image's pixels after fitting it
 * inside (truncated sizes), ties broken by less wasted canvas, full ties by list order.
 */
export function selectBestResolution(width: number, height: number, candidates: readonly [number, number][]): [number, number] {
  let best = candidates[0];
  let bestEffective = -1;
  let bestWasted = Infinity;
  for (const [cw, ch] of candidates) {
    const scale = Math.min(cw / width, ch / height);
    const effective = Math.min(Math.trunc(width * scale) * Math.trunc(height * scale), width * height);
    const wasted = cw * ch - effective;
    if (effective > bestEffective || (effective === bestEffective && wasted < bestWasted)) {
      best = [cw, ch];
      bestEffective = effective;
      bestWasted = wasted;
    }
  }
  return best;
}

/**
 * PIL's ImageOps.pad geometry: the image resized to fit inside width x height keeping its aspect
 * (ImageOps.contain, Python rounding), and where it is pasted on the canvas (centred, rounded).
 */
export function padGeometry(
  imageW: number,
  imageH: number,
  width: number,
  height: number,
): { size: [number, number]; offset: [number, number] } {
  let [w, h] = [width, height];
  const imageRatio = imageW / imageH;
  const targetRatio = width / height;
  if (imageRatio > targetRatio) h = pythonRound((imageH / imageW) * width);
  else if (imageRatio < targetRatio) w = pythonRound((imageW / imageH) * height);
  const offset: [number, number] = w !== width ? [pythonRound((width - w) * 0.5), 0] : [0, pythonRound((height - h) * 0.5)];
  return { size: [w, h], offset };
}

/** Image tokens DeepSeek-VL2 gives one image: global 14x(14+1), separator, local mosaic rows with newlines. */
export function deepseekVl2Tokens(tilesW: number, tilesH: number, side = 14): number {
  return side * (side + 1) + 1 + side * tilesH * (side * tilesW + 1);
}

/** Every (m·tile, n·tile) with m·n <= maxTiles, in the order DeepSeek-VL2's configs list them for 384 and 9. */
export function candidateResolutions(tile: number, maxTiles: number): [number, number][] {
  if (maxTiles === 9) return DEEPSEEK_VL2_CANDIDATES.map(([w, h]) => [(w / 384) * tile, (h / 384) * tile]);
  const out: [number, number][] = [];
  for (let m = 1; m <= maxTiles; m++) for (let n = 1; m * n <= maxTiles; n++) out.push([m * tile, n * tile]);
  return out;
}

/** ImageOps.pad: resized to fit (PIL bicubic) and centred on a canvas of the fill colour. */
export function padImage(img: RgbImage, width: number, height: number, fill: number): RgbImage {
  const { size, offset } = padGeometry(img.width, img.height, width, height);
  const fitted = resize(img, size[0], size[1], "bicubic");
  const data = new Uint8Array(width * height * 3).fill(fill);
  for (let y = 0; y < fitted.height; y++) {
    data.set(fitted.data.subarray(y * fitted.width * 3, (y + 1) * fitted.width * 3), ((y + offset[1]) * width + offset[0]) * 3);
  }
  return { width, height, data };
}

/** The views of one image: the global view, then the local tiles row by row; and the tile counts (w, h). */
export function deepseekViews(
  img: RgbImage,
  tile: number,
  maxTiles: number,
  fill: number,
  cropping: boolean,
): { views: RgbImage[]; tiles: [number, number] } {
  const [bw, bh] = cropping ? selectBestResolution(img.width, img.height, candidateResolutions(tile, maxTiles)) : [tile, tile];
  const views = [padImage(img, tile, tile, fill), ...cutTiles(padImage(img, bw, bh, fill), tile)];
  return { views, tiles: [bw / tile, bh / tile] };
}

/**
 * Row indices into [view tokens (side x side per view, views in order)..., image_newline, view_separator]
 * giving each image's tokens in LLM order: global rows each followed by a newline, the separator, then
 * the local mosaic rows each followed by a newline (tile_tag "2D", global view first).
 */
export function deepseekAssembly(tiles: readonly [number, number][], side: number): number[] {
  const views = tiles.reduce((a, [w, h]) => a + 1 + w * h, 0);
  const newline = views * side * side;
  const separator = newline + 1;
  const out: number[] = [];
  let view = 0;
  for (const [nw, nh] of tiles) {
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) out.push(view * side * side + r * side + c);
      out.push(newline);
    }
    out.push(separator);
    for (let R = 0; R < nh * side; R++) {
      for (let C = 0; C < nw * side; C++) {
        const t = Math.floor(R / side) * nw + Math.floor(C / side);
        out.push((view + 1 + t) * side * side + (R % side) * side + (C % side));
      }
      out.push(newline);
    }
    view += 1 + nw * nh;
  }
  return out;
}
