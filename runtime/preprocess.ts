import type { PreprocessStep } from "../core/preprocess.ts";
import { ImageError, type RgbImage } from "./image/image.ts";
import { pythonRound, qwenPatches, smartResize } from "./image/qwen.ts";
import { frameIndices, framePixelCap, smartNframes } from "./image/video.ts";
import { deepseekViews } from "./image/tiles.ts";
import { anyresViews, llavaNextTokens } from "./image/anyres.ts";
import { resize } from "./image/resample.ts";
import { aspectTiles } from "./image/aspect-tiles.ts";
import { longestEdgeSize, splitGrid } from "./image/split-grid.ts";
import { fitPatchesSize } from "./image/fit-patches.ts";
import { panAndScan } from "./image/pan-and-scan.ts";
import { flatPatches, maxPatchesSize } from "./image/naflex.ts";
import type { HostTensor } from "./tensor.ts";

/** uint8 HWC pixels, or float CHW values once rescaled. */
type Stage = { kind: "pixels"; img: RgbImage } | { kind: "values"; t: HostTensor };

/** Center crop as Hugging Face does it: floor offsets, zero padding when the image is smaller than the crop. */
function centerCrop(img: RgbImage, w: number, h: number): RgbImage {
  const top = Math.floor((img.height - h) / 2);
  const left = Math.floor((img.width - w) / 2);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < w; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      out.set(img.data.subarray((sy * img.width + sx) * 3, (sy * img.width + sx) * 3 + 3), (y * w + x) * 3);
    }
  }
  return { width: w, height: h, data: out };
}

/** HF get_resize_output_image_size with default_to_square=False: the short side becomes `size`, the long one int(size * long / short). */
export function shortestEdgeSize(w: number, h: number, size: number): [number, number] {
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? [size, newLong] : [newLong, size];
}

function toValues(img: RgbImage, factor: number): HostTensor {
  const { width: w, height: h } = img;
  const data = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let i = 0; i < w * h; i++) data[c * w * h + i] = img.data[i * 3 + c] * factor;
  return { shape: [3, h, w], data };
}

/** One preprocessed image: [3, H, W] values, or patch rows [n, C·T·P·P] with their grid (t, h, w). */
export interface Preprocessed {
  tensor: HostTensor;
  grid: [number, number, number] | null;
  /**
   * DeepSeek-VL2, LLaVA-NeXT and split_grid: the image's local tiles (width, height), (0, 0) for an image
   * split_grid left whole; `tensor` holds its views [V, 3, tile, tile].
   */
  tiles?: [number, number];
  /** The image's own size (height, width), where its token count depends on it (LLaVA-NeXT). */
  size?: [number, number];
  /** Its image tokens, where preprocessing decides them (LLaVA-NeXT). */
  tokens?: number;
  /** The tensors of the section's branches by graph input, [3, H, W] each (DeepSeek-VL's high_res_pixel_values). */
  branches?: Record<string, HostTensor>;
  /** crop_to_patches: how many views `tensor` holds ([V, 3, tile, tile]; the processor's num_patches). */
  views?: number;
  /** fit_patches: images of any size, batched zero-padded to the largest with their sizes. */
  padded?: boolean;
  /** flat_patches: patch rows of one fixed length, batched stacked [N, rows, width]. */
  stacked?: boolean;
}

export interface PreprocessOptions {
  /** DeepSeek-VL2 crops into tiles only when the request has at most 2 images. */
  cropping: boolean;
  /** A video frame: smart_resize sizes it within these bounds instead of the image ones. */
  frame?: { minPixels: number; maxPixels: number };
}

/** Runs a graph file's preprocess steps on one image. */
export function preprocessImage(
  steps: readonly PreprocessStep[],
  image: RgbImage,
  name: string,
  options: PreprocessOptions = { cropping: true },
): Preprocessed {
  let stage: Stage = { kind: "pixels", img: image };
  let grid: [number, number, number] | null = null;
  let fitted: [number, number] | null = null;
  let rowsOfPatches = false;
  const branches: Record<string, HostTensor> = {};
  const pixels = (op: string): RgbImage => {
    if (stage.kind !== "pixels") throw new ImageError(`preprocess: ${op} must come before rescale/normalize`);
    return stage.img;
  };
  for (const [index, step] of steps.entries()) {
    switch (step.op) {
      case "pad_square": {
        stage = { kind: "pixels", img: padSquare(pixels(step.op), step) };
        break;
      }
      case "branch":
        branches[step.input] = preprocessImage(step.steps, pixels(`branch ${step.input}`), name, options).tensor;
        break;
      case "anyres": {
        const img = pixels(step.op);
        const { views, tiles } = anyresViews(img, step.tile, step.pinpoints);
        const size: [number, number] = [img.height, img.width];
        return {
          tensor: viewsThrough(steps.slice(index + 1), views, name, options),
          grid: null,
          tiles,
          size,
          tokens: llavaNextTokens(size[0], size[1], tiles, step.side),
        };
      }
      case "crop_to_patches": {
        const views = aspectTiles(pixels(step.op), step.tile, step.minTiles, step.maxTiles, step.thumbnail, step.filter);
        return {
          tensor: viewsThrough(steps.slice(index + 1), views, name, options),
          grid: null,
          views: views.length,
          tokens: views.length * step.tokens,
        };
      }
      case "pan_and_scan": {
        const img = pixels(step.op);
        const views = [img, ...(step.enabled ? panAndScan(img, step.minCrop, step.maxCrops, step.minRatio) : [])];
        return { tensor: viewsThrough(steps.slice(index + 1), views, name, options), grid: null, views: views.length };
      }
      case "split_grid": {
        const { views, grid } = splitGrid(pixels(step.op), step.tile, step.split, step.filter);
        return {
          tensor: viewsThrough(steps.slice(index + 1), views, name, options),
          grid: null,
          tiles: grid,
          tokens: views.length * step.tokens,
        };
      }
      case "tiles": {
        const { views, tiles } = deepseekViews(pixels(step.op), step.tile, step.maxTiles, step.fill, options.cropping);
        return {
          tensor: viewsThrough(steps.slice(index + 1), views, name, options),
          grid: null,
          tiles,
        };
      }
      case "convert_rgb":
        pixels(step.op);
        break;
      case "resize":
        stage = { kind: "pixels", img: resize(pixels(step.op), step.width, step.height, step.filter) };
        break;
      case "resize_shortest": {
        const img = pixels(step.op);
        const [w, h] = shortestEdgeSize(img.width, img.height, step.size);
        if (w < 1 || h < 1)
          throw new ImageError(`image ${name}: ${img.width}x${img.height} is too thin to resize to a short side of ${step.size}`);
        stage = { kind: "pixels", img: resize(img, w, h, step.filter) };
        break;
      }
      case "fit_patches": {
        const img = pixels(step.op);
        const [w, h] = fitPatchesSize(img.width, img.height, step.longest, step.multiple);
        stage = { kind: "pixels", img: resize(img, w, h, step.filter) };
        grid = [1, h / step.patch, w / step.patch];
        fitted = [h, w];
        break;
      }
      case "resize_max_patches": {
        const img = pixels(step.op);
        const [w, h] = maxPatchesSize(img.width, img.height, step.patch, step.maxPatches);
        stage = { kind: "pixels", img: resize(img, w, h, step.filter) };
        break;
      }
      case "flat_patches": {
        const t: HostTensor = stage.kind === "values" ? stage.t : toValues(stage.img, 1);
        const made = flatPatches(t, step.patch, step.maxPatches, name);
        stage = { kind: "values", t: made.rows };
        grid = made.grid;
        rowsOfPatches = true;
        break;
      }
      case "resize_longest": {
        const img = pixels(step.op);
        const [w, h] = longestEdgeSize(img.width, img.height, step.size, step.even);
        stage = { kind: "pixels", img: resize(img, w, h, step.filter) };
        break;
      }
      case "center_crop":
        stage = { kind: "pixels", img: centerCrop(pixels(step.op), step.width, step.height) };
        break;
      case "rescale":
        // HF rescales in float64 and then casts to float32.
        stage = { kind: "values", t: toValues(pixels(step.op), step.factor) };
        break;
      case "normalize": {
        const t: HostTensor = stage.kind === "values" ? stage.t : toValues(stage.img, 1);
        const hw = t.shape[1] * t.shape[2];
        const out = new Float32Array(t.data.length);
        for (let c = 0; c < 3; c++) {
          const mean = Math.fround(step.mean[c]);
          const std = Math.fround(step.std[c]);
          for (let i = 0; i < hw; i++) out[c * hw + i] = Math.fround(Math.fround(t.data[c * hw + i] - mean) / std);
        }
        stage = { kind: "values", t: { shape: t.shape, data: out } };
        break;
      }
      case "video_frames":
        break;
      case "smart_resize": {
        const img = pixels(step.op);
        const bounds = options.frame ? { factor: step.factor, ...options.frame } : step;
        const [h, w] = smartResize(img.height, img.width, bounds, `${options.frame ? "video" : "image"} ${name}`);
        stage = { kind: "pixels", img: resize(img, w, h, step.filter) };
        break;
      }
      case "qwen_patches": {
        const t: HostTensor = stage.kind === "values" ? stage.t : toValues(stage.img, 1);
        const made = qwenPatches(t, step.temporal, step.patch, step.merge);
        stage = { kind: "values", t: made.patches };
        grid = made.grid;
        break;
      }
    }
  }
  const tensor = stage.kind === "values" ? stage.t : toValues(stage.img, 1);
  if (fitted) return { tensor, grid, size: fitted, padded: true };
  if (rowsOfPatches) return { tensor, grid, stacked: true };
  return Object.keys(branches).length > 0 ? { tensor, grid, branches } : { tensor, grid };
}

/** A preprocessed video: its patch rows and grid, and the seconds one temporal grid step spans. */
export interface PreprocessedVideo extends Preprocessed {
  grid: [number, number, number];
  secondsPerGrid: number;
}

/**
 * A video given as frames: sampled at the graph's fps when the frames' own rate is known (else all are
 * used, at the default rate), each frame resized within the video pixel bounds, padded to a multiple of
 * the temporal patch by repeating the last frame, then patchified together.
 */
export function preprocessVideo(
  steps: readonly PreprocessStep[],
  frames: readonly RgbImage[],
  name: string,
  sourceFps?: number,
): PreprocessedVideo {
  const rules = steps.find((s) => s.op === "video_frames");
  const patches = steps.find((s) => s.op === "qwen_patches");
  if (!rules || !patches)
    throw new ImageError(`video ${name}: this graph takes no video (its preprocess section has no video_frames and qwen_patches steps)`);
  if (frames.length === 0) throw new ImageError(`video ${name}: no frames`);
  let picked = frames;
  let fps = rules.fps;
  if (sourceFps !== undefined) {
    const n = smartNframes(frames.length, sourceFps, rules, `video ${name}`);
    picked = frameIndices(frames.length, n).map((i) => frames[i]);
    fps = (n / frames.length) * sourceFps;
  }
  const frame = { minPixels: rules.minPixels, maxPixels: framePixelCap(picked.length, rules) };
  const first = picked[0];
  picked.forEach((f, i) => {
    if (f.width !== first.width || f.height !== first.height)
      throw new ImageError(
        `video ${name}: frame ${i + 1} is ${f.width}x${f.height}, frame 1 is ${first.width}x${first.height}; all frames need one size`,
      );
  });
  const upToPatches = steps.slice(0, steps.indexOf(patches));
  const done = picked.map((f) => preprocessImage(upToPatches, f, name, { cropping: false, frame }).tensor);
  while (done.length % patches.temporal !== 0) done.push(done[done.length - 1]);
  const { patches: tensor, grid } = qwenPatches(done, patches.temporal, patches.patch, patches.merge);
  return { tensor, grid, secondsPerGrid: patches.temporal / fps };
}

/** Preprocessed images as the graph's inputs: the main tensor, the branches' tensors, the geometry. */
export interface Batch {
  tensor: HostTensor;
  grids: [number, number, number][];
  tiles: [number, number][];
  sizes: [number, number][];
  /** Each branch's tensors stacked [N, 3, H, W], by graph input. */
  branches?: Record<string, HostTensor>;
  /** crop_to_patches: each image's view count. */
  views?: number[];
}

/**
 * Several images as one input: patch rows are concatenated (images of any size, their grids kept in
 * order); [3, H, W] images are stacked into [N, 3, H, W] and must come out at the same size.
 */
export function batchImages(images: readonly Preprocessed[], names: readonly string[]): Batch {
  const grids = images.flatMap((i) => (i.grid ? [i.grid] : []));
  const tiles = images.flatMap((i) => (i.tiles ? [i.tiles] : []));
  const sizes = images.flatMap((i) => (i.size ? [i.size] : []));
  const views = images.flatMap((i) => (i.views ? [i.views] : []));
  if (tiles.length > 0 || views.length > 0) {
    // Views of all images, in order, as one batch [V, 3, tile, tile].
    const [, c, h, w] = images[0].tensor.shape;
    const total = images.reduce((a, i) => a + i.tensor.shape[0], 0);
    return { tensor: joined(images, [total, c, h, w]), grids, tiles, sizes, views };
  }
  if (images.some((i) => i.padded)) return { tensor: padStack(images.map((i) => i.tensor)), grids, tiles, sizes };
  if (images.some((i) => i.stacked)) {
    const [rows, width] = images[0].tensor.shape;
    return { tensor: joined(images, [images.length, rows, width]), grids, tiles, sizes };
  }
  if (grids.length > 0) {
    const rows = images.reduce((a, i) => a + i.tensor.shape[0], 0);
    return { tensor: joined(images, [rows, images[0].tensor.shape[1]]), grids, tiles, sizes };
  }
  const branches = Object.fromEntries(
    Object.keys(images[0]?.branches ?? {}).map((input) => [
      input,
      stackImages(
        images.map((i) => i.branches?.[input] as HostTensor),
        names,
      ),
    ]),
  );
  return {
    tensor: stackImages(
      images.map((i) => i.tensor),
      names,
    ),
    grids: [],
    tiles,
    sizes,
    branches,
  };
}

/** The images' tensors one after another, as one tensor of `shape`. */
function joined(images: readonly Preprocessed[], shape: number[]): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let at = 0;
  for (const i of images) {
    data.set(i.tensor.data, at);
    at += i.tensor.data.length;
  }
  return { shape, data };
}

/** Views of one image (anyres, tiles), each through the steps that follow, stacked. */
function viewsThrough(rest: readonly PreprocessStep[], views: readonly RgbImage[], name: string, options: PreprocessOptions): HostTensor {
  const done = views.map((v) => preprocessImage(rest, v, name, options).tensor);
  return stackImages(
    done,
    done.map(() => name),
  );
}

/** [3, H, W] images of any sizes stacked [N, 3, Hmax, Wmax], each zero-padded at the bottom and right (Pixtral's do_pad). */
function padStack(tensors: readonly HostTensor[]): HostTensor {
  const c = tensors[0].shape[0];
  const h = Math.max(...tensors.map((t) => t.shape[1]));
  const w = Math.max(...tensors.map((t) => t.shape[2]));
  const data = new Float32Array(tensors.length * c * h * w);
  tensors.forEach((t, i) => {
    const [, th, tw] = t.shape;
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < th; y++) data.set(t.data.subarray((ch * th + y) * tw, (ch * th + y + 1) * tw), ((i * c + ch) * h + y) * w);
  });
  return { shape: [tensors.length, c, h, w], data };
}

function stackImages(tensors: readonly HostTensor[], names: readonly string[]): HostTensor {
  const [c, h, w] = tensors[0].shape;
  tensors.forEach((t, i) => {
    if (t.shape[1] !== h || t.shape[2] !== w)
      throw new ImageError(
        `image ${names[i]} preprocesses to ${t.shape[2]}x${t.shape[1]}, but ${names[0]} to ${w}x${h}; one batch needs one size`,
      );
  });
  const data = new Float32Array(tensors.length * c * h * w);
  tensors.forEach((t, i) => data.set(t.data, i * c * h * w));
  return { shape: [tensors.length, c, h, w], data };
}

/** DeepSeek-VL's processors: long side to `size`, the other truncated or rounded (at least minSide), PIL bicubic, centred on a square of `background`. */
export function padSquare(img: RgbImage, step: Extract<PreprocessStep, { op: "pad_square" }>): RgbImage {
  const { size, background, minSide } = step;
  const long = Math.max(img.width, img.height);
  // deepseek-ai: int(side / long * size); transformers: round(side * (size / long)), Python's half-to-even round.
  const side = (n: number): number =>
    Math.max(step.rounding === "trunc" ? Math.trunc((n / long) * size) : pythonRound(n * (size / long)), minSide);
  const [w, h] = [side(img.width), side(img.height)];
  const fitted = resize(img, w, h, "bicubic");
  const square = Math.max(w, h);
  const data = new Uint8Array(square * square * 3);
  for (let i = 0; i < square * square; i++) data.set(background, i * 3);
  const [x0, y0] = [Math.floor((square - w) / 2), Math.floor((square - h) / 2)];
  for (let y = 0; y < h; y++) data.set(fitted.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + y0) * square + x0) * 3);
  return { width: square, height: square, data };
}
