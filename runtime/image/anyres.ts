import { cutTiles, type RgbImage } from "./image.ts";
import { resize } from "./resample.ts";
import { selectBestResolution } from "./tiles.ts";

/**
 * LLaVA-NeXT's "anyres" views (transformers' LlavaNextImageProcessor): the image resized to the best
 * of the grid pinpoints ((height, width) pairs) keeping its aspect (ceil, capped at the target),
 * centred on a black canvas, cut into tile x tile patches row by row; before them the whole image
 * resized to tile x tile (not keeping its aspect).
 */
export function anyresViews(
  img: RgbImage,
  tile: number,
  pinpoints: readonly [number, number][],
): { views: RgbImage[]; tiles: [number, number] } {
  const [bw, bh] = selectBestResolution(
    img.width,
    img.height,
    pinpoints.map(([h, w]) => [w, h]),
  );
  const [nh, nw] = patchOutputSize(img.height, img.width, bh, bw);
  const fitted = resize(img, nw, nh, "bicubic");
  const [x0, y0] = [Math.floor((bw - nw) / 2), Math.floor((bh - nh) / 2)];
  const canvas = new Uint8Array(bw * bh * 3);
  for (let y = 0; y < nh; y++) canvas.set(fitted.data.subarray(y * nw * 3, (y + 1) * nw * 3), ((y + y0) * bw + x0) * 3);
  const views = [resize(img, tile, tile, "bicubic"), ...cutTiles({ width: bw, height: bh, data: canvas }, tile)];
  return { views, tiles: [bw / tile, bh / tile] };
}

/** _get_patch_output_size: the size the image is resized to inside the target (height, width). */
export function patchOutputSize(height: number, width: number, targetH: number, targetW: number): [number, number] {
  const [scaleW, scaleH] = [targetW / width, targetH / height];
  return scaleW < scaleH
    ? [Math.min(Math.ceil(height * scaleW), targetH), targetW]
    : [targetH, Math.min(Math.ceil(width * scaleH), targetW)];
}

/**
 * The tiles' side x side token mosaic after unpad_image: the rows (or columns) that only cover the
 * black padding are cut off. int(round(x, 7)) of these ratios is their floor, as their fractional parts
 * are multiples of 1/height (or 1/width).
 */
export function unpaddedMosaic(
  height: number,
  width: number,
  tiles: [number, number],
  side: number,
): { rows: [number, number]; cols: [number, number] } {
  const [H, W] = [tiles[1] * side, tiles[0] * side];
  if (width * H > W * height) {
    const kept = Math.floor((height * W) / width);
    const pad = Math.floor((H - kept) / 2);
    return { rows: [pad, H - pad], cols: [0, W] };
  }
  const kept = Math.floor((width * H) / height);
  const pad = Math.floor((W - kept) / 2);
  return { rows: [0, H], cols: [pad, W - pad] };
}

/** Image tokens LLaVA-NeXT gives one image: the base view's side², then the unpadded mosaic's rows each with a newline. */
export function llavaNextTokens(height: number, width: number, tiles: [number, number], side: number): number {
  const { rows, cols } = unpaddedMosaic(height, width, tiles, side);
  return side * side + (rows[1] - rows[0]) * (cols[1] - cols[0] + 1);
}

/**
 * Row indices into [view tokens (side² per view, views in order)..., image_newline] giving each
 * image's tokens in LLM order (pack_image_features): the base view's tokens, then each row of the
 * unpadded tile mosaic followed by the newline.
 */
export function llavaNextAssembly(images: readonly { size: [number, number]; tiles: [number, number] }[], side: number): number[] {
  const newline = images.reduce((a, { tiles }) => a + 1 + tiles[0] * tiles[1], 0) * side * side;
  const out: number[] = [];
  let view = 0;
  for (const { size, tiles } of images) {
    for (let i = 0; i < side * side; i++) out.push(view * side * side + i);
    const { rows, cols } = unpaddedMosaic(size[0], size[1], tiles, side);
    for (let R = rows[0]; R < rows[1]; R++) {
      for (let C = cols[0]; C < cols[1]; C++) {
        const t = Math.floor(R / side) * tiles[0] + Math.floor(C / side);
        out.push((view + 1 + t) * side * side + (R % side) * side + (C % side));
      }
      out.push(newline);
    }
    view += 1 + tiles[0] * tiles[1];
  }
  return out;
}
