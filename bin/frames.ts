import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../core/errors.ts";
import { readImage, type RgbImage } from "../runtime/image/decode.ts";

const FRAME_FILE = /\.(png|jpe?g)$/i;

/** A `--video` value: a folder of PNG/JPEG frames (in name order, frame2 before frame10) or a comma-separated list of frame files. */
export function framePaths(spec: string): string[] {
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    const names = readdirSync(spec)
      .filter((n) => FRAME_FILE.test(n))
      .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    if (names.length === 0) throw new UsageError(`--video ${spec}: the folder has no PNG or JPEG frames`);
    return names.map((n) => join(spec, n));
  }
  const paths = spec.split(",").filter((p) => p !== "");
  if (paths.length === 0)
    throw new UsageError(`--video expects a folder of frames or a comma-separated list of frame files, got '${spec}'`);
  return paths;
}

export async function readFrames(spec: string): Promise<RgbImage[]> {
  return Promise.all(framePaths(spec).map((p) => readImage(p)));
}

/** `--video-fps`: the frames' own rate, so they are sampled at the graph's rate. */
export function videoFps(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const fps = Number(value);
  if (!(fps > 0) || !Number.isFinite(fps))
    throw new UsageError(`--video-fps expects a positive number of frames per second, got '${value}'`);
  return fps;
}
