import { ImageError } from "./image.ts";
import { antialiasTaps } from "./antialias.ts";
import type { HostTensor } from "../tensor.ts";

/**
 * Siglip2's get_image_size_for_max_num_patches: a binary search for the largest scale at which both sides,
 * rounded up to multiples of `patch` (at least one patch), give at most `maxPatches`. Returns (width, height).
 */
export function maxPatchesSize(width: number, height: number, patch: number, maxPatches: number): [number, number] {
  const eps = 1e-5;
  const scaled = (scale: number, size: number): number => Math.max(patch, Math.ceil((size * scale) / patch) * patch);
  let [lo, hi] = [eps / 10, 100];
  while (hi - lo >= eps) {
    const scale = (lo + hi) / 2;
    if ((scaled(scale, height) / patch) * (scaled(scale, width) / patch) <= maxPatches) lo = scale;
    else hi = scale;
  }
  return [scaled(lo, width), scaled(lo, height)];
}

/**
 * Siglip2's convert_image_to_patches and pad_along_first_dim: [3, H, W] values into [maxPatches, patch·patch·3]
 * rows, raster order, each patch flattened (row, column, channel), zero rows after the image's.
 */
export function flatPatches(
  t: HostTensor,
  patch: number,
  maxPatches: number,
  name: string,
): { rows: HostTensor; grid: [number, number, number] } {
  const [c, h, w] = t.shape;
  const [gh, gw] = [Math.floor(h / patch), Math.floor(w / patch)];
  if (gh * gw > maxPatches)
    throw new ImageError(`image ${name}: ${gh * gw} patches of ${patch} px, more than the ${maxPatches} the model takes`);
  const width = patch * patch * c;
  const data = new Float32Array(maxPatches * width);
  for (let i = 0; i < gh; i++)
    for (let j = 0; j < gw; j++)
      for (let y = 0; y < patch; y++)
        for (let x = 0; x < patch; x++)
          for (let ch = 0; ch < c; ch++)
            data[(i * gw + j) * width + (y * patch + x) * c + ch] = t.data[(ch * h + i * patch + y) * w + j * patch + x];
  return { rows: { shape: [maxPatches, width], data }, grid: [1, gh, gw] };
}

/** [images, length]: 1 on each image's h·w real patch rows, 0 after them. */
export function patchMask(grids: readonly [number, number, number][], length: number): HostTensor {
  const data = new Float32Array(grids.length * length);
  grids.forEach(([, h, w], i) => data.fill(1, i * length, i * length + h * w));
  return { shape: [grids.length, length], data };
}

/**
 * [images, length, size·size]: for each image's grid h x w, row i·w + j holds the weights of the size x size
 * table's cells that torch's interpolate(bilinear, antialias=True, align_corners=False) gives cell (i, j);
 * rows past h·w repeat row 0, as Siglip2VisionEmbeddings pads them.
 */
export function positionWeights(grids: readonly [number, number, number][], size: number, length: number): HostTensor {
  const cells = size * size;
  const data = new Float32Array(grids.length * length * cells);
  grids.forEach(([, h, w], b) => {
    const ys = Array.from({ length: h }, (_, i) => antialiasTaps(i, size, h, "bilinear"));
    const xs = Array.from({ length: w }, (_, j) => antialiasTaps(j, size, w, "bilinear"));
    for (let r = 0; r < length; r++) {
      const cell = r < h * w ? r : 0;
      const base = (b * length + r) * cells;
      for (const [gy, wy] of ys[Math.floor(cell / w)]) for (const [gx, wx] of xs[cell % w]) data[base + gy * size + gx] += wy * wx;
    }
  });
  return { shape: [grids.length, length, cells], data };
}
