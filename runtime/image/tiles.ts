import { pythonRound } from "./qwen.ts";

/** DeepSeek-VL2's candidate resolutions (width, height): every (m·384, n·384) with m·n <= 9, in the shipped order. */
export const DEEPSEEK_VL2_CANDIDATES: readonly [number, number][] = [
  [384, 384], [384, 768], [768, 384], [384, 1152], [1152, 384], [384, 1536], [1536, 384], [768, 768],
  [384, 1920], [1920, 384], [384, 2304], [2304, 384], [768, 1152], [1152, 768], [384, 2688], [2688, 384],
  [384, 3072], [3072, 384], [768, 1536], [1536, 768], [384, 3456], [3456, 384], [1152, 1152],
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
export function padGeometry(imageW: number, imageH: number, width: number, height: number): { size: [number, number]; offset: [number, number] } {
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
