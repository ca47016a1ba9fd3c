import { ImageError } from "./image.ts";
import { pythonRound } from "./qwen.ts";
import type { PreprocessStep } from "../../core/preprocess.ts";

/** How a graph samples and sizes video frames (qwen-vl-utils' constants, from the graph's config: its `video_frames` step). */
export type VideoRules = Omit<Extract<PreprocessStep, { op: "video_frames" }>, "op">;

const FRAME_FACTOR = 2;

/** qwen-vl-utils' smart_nframes: how many of `total` frames (at `videoFps`) to sample. */
export function smartNframes(total: number, videoFps: number, rules: VideoRules, name = "video"): number {
  const minFrames = Math.ceil(rules.minFrames / FRAME_FACTOR) * FRAME_FACTOR;
  const maxFrames = Math.floor(Math.min(rules.maxFrames, total) / FRAME_FACTOR) * FRAME_FACTOR;
  let n = (total / videoFps) * rules.fps;
  n = Math.min(Math.max(n, minFrames), maxFrames);
  if (rules.rounding === "floor") n = Math.floor(Math.min(n, total) / FRAME_FACTOR) * FRAME_FACTOR;
  else n = pythonRound(n / FRAME_FACTOR) * FRAME_FACTOR;
  if (n < FRAME_FACTOR || n > total)
    throw new ImageError(`${name}: ${total} frames at ${videoFps} fps give ${n} sampled frames; need between ${FRAME_FACTOR} and ${total}`);
  return n;
}

/** Frames picked: linspace(0, total - 1, n) rounded half to even, as torch.linspace(...).round(). */
export function frameIndices(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => pythonRound(n === 1 ? 0 : (i * (total - 1)) / (n - 1)));
}

/** The per-frame pixel cap for `n` frames: the total budget shared out, within [1.05·min, max]. */
export function framePixelCap(n: number, rules: VideoRules): number {
  return Math.max(Math.min(rules.maxPixels, (rules.totalPixels / n) * FRAME_FACTOR), Math.trunc(rules.minPixels * 1.05));
}
