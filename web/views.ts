import type { Grid } from "../runtime/geometry.ts";
import type { HostTensor } from "../runtime/tensor.ts";

/** One picture of what the model sees, with where a token's pixels are on it. */
export interface View {
  label: string;
  width: number;
  height: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
  /** Grid lines to draw: the patch size, and a coarser unit (Qwen's merge window), in pixels. */
  patch: number;
  unit: number;
}

/** Where one image token came from: a rectangle on one view. */
export interface TokenSource {
  view: number;
  x: number;
  y: number;
  size: number;
}

function toByte(v: number, c: number, mean: number[], std: number[]): number {
  return Math.max(0, Math.min(255, Math.round((v * std[c] + mean[c]) * 255)));
}

/** Qwen patch rows (merge-window order, first temporal frame) back into the resized image. */
export function qwenView(
  pixels: HostTensor,
  grid: Grid,
  rowOffset: number,
  patch: number,
  merge: number,
  temporal: number,
  mean: number[],
  std: number[],
): View {
  const [, gh, gw] = grid;
  const [H, W] = [gh * patch, gw * patch];
  const rgba = new Uint8ClampedArray(W * H * 4).fill(255);
  const cols = pixels.shape[1];
  for (let r = 0; r < gh * gw; r++) {
    const window = Math.floor(r / (merge * merge));
    const within = r % (merge * merge);
    const y0 = (Math.floor(window / (gw / merge)) * merge + Math.floor(within / merge)) * patch;
    const x0 = ((window % (gw / merge)) * merge + (within % merge)) * patch;
    for (let c = 0; c < 3; c++) {
      for (let py = 0; py < patch; py++) {
        for (let px = 0; px < patch; px++) {
          const v = pixels.data[(rowOffset + r) * cols + (c * temporal * patch + py) * patch + px];
          rgba[((y0 + py) * W + x0 + px) * 4 + c] = toByte(v, c, mean, std);
        }
      }
    }
  }
  return {
    label: `resized to ${W}x${H}: grid ${gh}x${gw} patches of ${patch} px, ${merge}x${merge} merge windows`,
    width: W,
    height: H,
    rgba,
    patch,
    unit: patch * merge,
  };
}

/** View v of [V, 3, S, S] pixel values. */
export function squareView(pixels: HostTensor, v: number, patch: number, label: string, mean: number[], std: number[]): View {
  const [, , H, W] = pixels.shape;
  const rgba = new Uint8ClampedArray(W * H * 4).fill(255);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < H * W; i++) rgba[i * 4 + c] = toByte(pixels.data[(v * 3 + c) * H * W + i], c, mean, std);
  }
  return { label, width: W, height: H, rgba, patch, unit: patch };
}

/** Qwen image token j: its merged cell on the image's view. */
export function qwenTokenSource(j: number, grid: Grid, patch: number, merge: number): TokenSource {
  const cellsPerRow = grid[2] / merge;
  const cell = j % ((grid[1] / merge) * cellsPerRow);
  return { view: 0, x: (cell % cellsPerRow) * patch * merge, y: Math.floor(cell / cellsPerRow) * patch * merge, size: patch * merge };
}

/** A token gathered from the views' token rows (DeepSeek-VL2, LLaVA-NeXT assembly): its cell on its view, or null for a learned vector. */
export function assembledTokenSource(row: number, views: number, side: number, viewSize: number): TokenSource | null {
  const perView = side * side;
  if (row >= views * perView) return null;
  const cell = row % perView;
  const size = viewSize / side;
  return { view: Math.floor(row / perView), x: (cell % side) * size, y: Math.floor(cell / side) * size, size };
}
