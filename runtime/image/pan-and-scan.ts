import type { RgbImage } from "./image.ts";

/**
 * Gemma3ImageProcessor's pan_and_scan: crops along the long side of an image at least `minRatio` times
 * longer than it is wide (or tall), their count the rounded ratio within [2, maxCrops] and at most
 * long / minCrop; none when the ratio is below `minRatio` or a crop would be under `minCrop`.
 */
export function panAndScan(img: RgbImage, minCrop: number, maxCrops: number, minRatio: number): RgbImage[] {
  const { width, height } = img;
  const landscape = width >= height;
  const [long, short] = landscape ? [width, height] : [height, width];
  if (long / short < minRatio) return [];
  const count = Math.min(maxCrops, Math.max(2, Math.min(Math.floor(long / minCrop), Math.floor(long / short + 0.5))));
  const [cols, rows] = landscape ? [count, 1] : [1, count];
  const [cw, ch] = [Math.ceil(width / cols), Math.ceil(height / rows)];
  if (Math.min(cw, ch) < minCrop) return [];
  const crops: RgbImage[] = [];
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      // numpy slicing: a crop past the edge is cut short.
      const [x0, y0] = [c * cw, r * ch];
      const [w, h] = [Math.min(cw, width - x0), Math.min(ch, height - y0)];
      const data = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * width + x0) * 3, ((y0 + y) * width + x0 + w) * 3), y * w * 3);
      crops.push({ width: w, height: h, data });
    }
  return crops;
}
