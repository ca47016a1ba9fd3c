import type { HostTensor } from "../tensor.ts";
import { ImageError } from "./image.ts";

/** Python's round(): halves go to the even neighbour (round(2.5) = 2), unlike Math.round. */
export function pythonRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface SmartResizeOptions {
  factor: number;
  minPixels: number;
  maxPixels: number;
}

/**
 * Qwen2-VL's smart_resize (transformers' Qwen2VLImageProcessor): both sides multiples of `factor`
 * (patch 14 x merge 2 = 28), the aspect ratio kept as far as possible, the pixel count within
 * [minPixels, maxPixels]. Returns [height, width].
 */
export function smartResize(
  height: number,
  width: number,
  { factor, minPixels, maxPixels }: SmartResizeOptions,
  name = "image",
): [number, number] {
  if (Math.max(height, width) / Math.min(height, width) > 200) {
    throw new ImageError(`${name}: ${width}x${height} has an aspect ratio above 200, which Qwen2-VL's processor refuses`);
  }
  let h = pythonRound(height / factor) * factor;
  let w = pythonRound(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return [h, w];
}

/**
 * Flattened patches in the processor's row order. `frames` are [3, H, W] each; a still image (one frame)
 * is duplicated to `temporal` frames, a video must have a multiple of `temporal` frames. Rows run over
 * temporal groups, then r = ((hb·(gw/m) + wb)·m + mh)·m + mw (2x2 merge windows together, windows
 * row-major); column k = ((c·temporal + tp)·patch + py)·patch + px (the Conv3d weight's flattening).
 */
export function qwenPatches(
  frames: HostTensor | readonly HostTensor[],
  temporal: number,
  patch: number,
  merge: number,
): { patches: HostTensor; grid: [number, number, number] } {
  const list = Array.isArray(frames) ? (frames as readonly HostTensor[]) : [frames as HostTensor];
  const stills = list.length === 1 ? Array<HostTensor>(temporal).fill(list[0]) : list;
  if (stills.length % temporal !== 0)
    throw new Error(`internal: ${stills.length} frames is not a multiple of the temporal patch ${temporal}`);
  const [channels, height, width] = stills[0].shape;
  const gt = stills.length / temporal;
  const gh = height / patch;
  const gw = width / patch;
  if (!Number.isInteger(gh / merge) || !Number.isInteger(gw / merge))
    throw new Error(`internal: ${width}x${height} is not a multiple of ${patch * merge}`);
  const cols = channels * temporal * patch * patch;
  const data = new Float32Array(gt * gh * gw * cols);
  let r = 0;
  for (let t = 0; t < gt; t++) {
    for (let hb = 0; hb < gh / merge; hb++) {
      for (let wb = 0; wb < gw / merge; wb++) {
        for (let mh = 0; mh < merge; mh++) {
          for (let mw = 0; mw < merge; mw++, r++) {
            const y0 = (hb * merge + mh) * patch;
            const x0 = (wb * merge + mw) * patch;
            let k = r * cols;
            for (let c = 0; c < channels; c++) {
              for (let tp = 0; tp < temporal; tp++) {
                const frame = stills[t * temporal + tp].data;
                for (let py = 0; py < patch; py++) {
                  const row = (c * height + y0 + py) * width + x0;
                  for (let px = 0; px < patch; px++) data[k++] = frame[row + px];
                }
              }
            }
          }
        }
      }
    }
  }
  return { patches: { shape: [gt * gh * gw, cols], data }, grid: [gt, gh, gw] };
}

/** Cumulative patch counts per image and temporal slice (cu_seqlens): attention segments. */
export function qwenSegments(grids: readonly [number, number, number][]): HostTensor {
  const bounds = [0];
  for (const [t, h, w] of grids) for (let i = 0; i < t; i++) bounds.push((bounds.at(-1) as number) + h * w);
  return { shape: [bounds.length], data: new Float32Array(bounds) };
}

/**
 * Qwen2-VL's vision rotary table (VisionRotaryEmbedding + rot_pos_emb), cos or sin, [patches, headDim]:
 * per patch row (in the processor's merge-window order) the angles [h·inv, w·inv, h·inv, w·inv] with
 * inv[k] = theta^(-4k/headDim), in float32 like the reference.
 */
export function qwenRope(
  grids: readonly [number, number, number][],
  headDim: number,
  theta: number,
  merge: number,
  part: "cos" | "sin",
  interleaved = false,
): HostTensor {
  const rotary = headDim / 2;
  // Per axis, the frequencies 1 / theta^(2k / rotary); interleaved, axis a takes 1 / theta^((4k + 2a) / headDim).
  const freq = (axis: number, k: number): number =>
    interleaved
      ? Math.fround(1 / Math.fround(theta ** Math.fround((4 * k + 2 * axis) / headDim)))
      : Math.fround(1 / Math.fround(theta ** Math.fround((2 * k) / rotary)));
  const inv = Array.from({ length: 2 }, (_, axis) => Array.from({ length: rotary / 2 }, (_, k) => freq(axis, k)));
  const rows = grids.reduce((a, [t, h, w]) => a + t * h * w, 0);
  const data = new Float32Array(rows * headDim);
  const f = part === "cos" ? Math.cos : Math.sin;
  let r = 0;
  for (const [t, gh, gw] of grids) {
    for (let ti = 0; ti < t; ti++) {
      for (let hb = 0; hb < gh / merge; hb++) {
        for (let wb = 0; wb < gw / merge; wb++) {
          for (let mh = 0; mh < merge; mh++) {
            for (let mw = 0; mw < merge; mw++, r++) {
              const pos = [hb * merge + mh, wb * merge + mw];
              for (let half = 0; half < 2; half++) {
                for (let axis = 0; axis < 2; axis++) {
                  for (let k = 0; k < rotary / 2; k++) {
                    data[r * headDim + half * rotary + axis * (rotary / 2) + k] = f(Math.fround(pos[axis] * inv[axis][k]));
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return { shape: [rows, headDim], data };
}

/** For each patch of each image (raster order), its row among the zero-padded batch's patches [images · Hmax · Wmax]. */
export function unpadRows(grids: readonly [number, number, number][]): HostTensor {
  const hMax = Math.max(...grids.map((g) => g[1]));
  const wMax = Math.max(...grids.map((g) => g[2]));
  const rows: number[] = [];
  grids.forEach(([, gh, gw], i) => {
    for (let h = 0; h < gh; h++) for (let w = 0; w < gw; w++) rows.push((i * hMax + h) * wMax + w);
  });
  return { shape: [rows.length], data: new Float32Array(rows) };
}

/** For each merge x merge window (raster order per image) and each patch in it, row-major, the patch's raster row. */
export function mergeOrder(grids: readonly [number, number, number][], merge: number): HostTensor {
  const raster = qwenRasterOrder(grids, merge).data;
  const order = new Float32Array(raster.length);
  raster.forEach((windowRow, rasterRow) => {
    order[windowRow] = rasterRow;
  });
  return { shape: [order.length], data: order };
}

/**
 * Processor row of each patch taken in raster order (per image and temporal slice: h, then w); with
 * `window` > 0, its row after Qwen2.5-VL's window reordering instead.
 */
export function qwenRasterOrder(grids: readonly [number, number, number][], merge: number, window = 0): HostTensor {
  const inverse = window > 0 ? qwenWindows(grids, merge, window).inverse : null;
  const per = merge * merge;
  const rows: number[] = [];
  let offset = 0;
  for (const [t, gh, gw] of grids) {
    for (let ti = 0; ti < t; ti++) {
      for (let h = 0; h < gh; h++) {
        for (let w = 0; w < gw; w++) {
          const windowBase = (Math.floor(h / merge) * (gw / merge) + Math.floor(w / merge)) * merge * merge;
          const row = offset + windowBase + (h % merge) * merge + (w % merge);
          rows.push(inverse ? (inverse[Math.floor(row / per)] as number) * per + (row % per) : row);
        }
      }
      offset += gh * gw;
    }
  }
  return { shape: [rows.length], data: new Float32Array(rows) };
}

/**
 * Qwen2.5-VL window attention (get_window_index): merge units reordered window by window (windows of
 * `window` x `window` units, raster order inside; the grid padded to whole windows, a full empty
 * row/column of windows when already divisible, which the dedup removes), per image and temporal slice.
 * Returns the merge-unit order, its inverse, and the window boundaries in patches (cu_window_seqlens).
 */
export function qwenWindows(
  grids: readonly [number, number, number][],
  merge: number,
  window: number,
): { units: number[]; inverse: number[]; bounds: number[] } {
  const units: number[] = [];
  const bounds = [0];
  let offset = 0;
  for (const [t, gh, gw] of grids) {
    const H = gh / merge;
    const W = gw / merge;
    const padH = window - (H % window);
    const padW = window - (W % window);
    const rows = (H + padH) / window;
    const cols = (W + padW) / window;
    for (let ti = 0; ti < t; ti++) {
      for (let wr = 0; wr < rows; wr++) {
        for (let wc = 0; wc < cols; wc++) {
          let count = 0;
          for (let y = wr * window; y < (wr + 1) * window; y++) {
            for (let x = wc * window; x < (wc + 1) * window; x++) {
              if (y >= H || x >= W) continue;
              units.push(offset + (ti * H + y) * W + x);
              count++;
            }
          }
          const end = (bounds.at(-1) as number) + count * merge * merge;
          if (end !== bounds.at(-1)) bounds.push(end);
        }
      }
    }
    offset += t * H * W;
  }
  const inverse = new Array<number>(units.length);
  units.forEach((u, i) => (inverse[u] = i));
  return { units, inverse, bounds };
}

/** Patch rows in window order: each merge unit's merge x merge patches stay together. */
export function qwenWindowPatchOrder(grids: readonly [number, number, number][], merge: number, window: number): HostTensor {
  const { units } = qwenWindows(grids, merge, window);
  const per = merge * merge;
  const rows = units.flatMap((u) => Array.from({ length: per }, (_, j) => u * per + j));
  return { shape: [rows.length], data: new Float32Array(rows) };
}
