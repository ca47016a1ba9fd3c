import type { Program } from "../core/program.ts";
import type { InputProvider } from "../core/preprocess.ts";
import { InputError } from "../core/errors.ts";
import type { RgbImage } from "./image/image.ts";
import { mergeOrder, qwenRasterOrder, qwenRope, qwenSegments, qwenWindowPatchOrder, qwenWindows, unpadRows } from "./image/qwen.ts";
import { deepseekAssembly } from "./image/tiles.ts";
import { patchMask, positionWeights } from "./image/naflex.ts";
import { interpTaps } from "./image/interp-taps.ts";
import { llavaNextAssembly } from "./image/anyres.ts";
import { itemsFromGeometry } from "./layout/items.ts";
import type { Grid } from "./geometry.ts";
import type { LayoutItem } from "./layout/types.ts";
import { batchImages, preprocessImage, preprocessVideo, type Preprocessed, type PreprocessedVideo } from "./preprocess.ts";
import type { HostTensor } from "./tensor.ts";

/** What inputs computed by the runtime are computed from. */
export interface ProviderSources {
  grids: Grid[];
  tiles: [number, number][];
  /** Each image's own size (height, width), where the assembly depends on it (LLaVA-NeXT). */
  sizes?: [number, number][];
  /** Token ids of each text (contrastive graphs). */
  texts?: number[][];
  /** How many images (rows of `pairs`). */
  images?: number;
}

function provide(p: InputProvider, { grids, tiles, sizes = [], texts = [], images = 0 }: ProviderSources): HostTensor {
  switch (p.kind) {
    case "tile_assembly": {
      const rows = deepseekAssembly(tiles, p.side);
      return { shape: [rows.length], data: new Float32Array(rows) };
    }
    case "anyres_assembly": {
      const rows = llavaNextAssembly(
        tiles.map((t, i) => ({ tiles: t, size: sizes[i] })),
        p.side,
      );
      return { shape: [rows.length], data: new Float32Array(rows) };
    }
    case "image_segments":
      return qwenSegments(grids);
    case "raster_order":
      return qwenRasterOrder(grids, p.merge, p.window);
    case "rope2d":
      return qwenRope(grids, p.headDim, p.theta, p.merge, p.part, p.interleaved);
    case "unpad_rows":
      return unpadRows(grids);
    case "merge_order":
      return mergeOrder(grids, p.merge);
    case "patch_mask":
      return patchMask(grids, p.length);
    case "interp_taps":
      return interpTaps(grids, p.side, p.merge, p.part);
    case "position_weights":
      return positionWeights(grids, p.size, p.length);
    case "windows": {
      if (p.part === "order") return qwenWindowPatchOrder(grids, p.merge, p.window);
      const w = qwenWindows(grids, p.merge, p.window);
      const values = p.part === "unorder" ? w.inverse : w.bounds;
      return { shape: [values.length], data: new Float32Array(values) };
    }
    case "text_pool":
      return textPoolRows(texts, p.eos);
    case "relative_index": {
      const n = p.size;
      return { shape: [n * n], data: Float32Array.from({ length: n * n }, (_, i) => Math.floor(i / n) - (i % n) + n - 1) };
    }
    case "pairs": {
      const data = new Float32Array(images * texts.length);
      for (let i = 0; i < Math.min(images, texts.length); i++) data[i * texts.length + i] = 1;
      return { shape: [images, texts.length], data };
    }
  }
}

/** The needs of each provider, for a clear message when they are missing. */
function missing(p: InputProvider, s: ProviderSources): string | null {
  if (p.kind === "tile_assembly")
    return s.tiles.length === 0 ? "the images' tiles (pixel values need images_spatial_crop with them)" : null;
  if (p.kind === "anyres_assembly")
    return s.tiles.length === 0 || (s.sizes ?? []).length !== s.tiles.length
      ? "the images' sizes (pixel values need image_sizes with them)"
      : null;
  if (p.kind === "relative_index") return null;
  if (p.kind === "text_pool" || p.kind === "pairs") return (s.texts ?? []).length === 0 ? "the texts' token ids" : null;
  return s.grids.length === 0 ? "the images' grids (pixel values need grid_thw with them)" : null;
}

/** The inputs a graph computes from the images' grids or tiles and the texts' tokens (segments, rotary tables, pooling rows). */
export function providedInputs(program: Program, sources: ProviderSources, source: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const { input, provider } of program.providers) {
    const need = missing(provider, sources);
    if (need) throw new InputError(`graph input '${input}' is computed from ${need}, but ${source} gives none`);
    out.set(input, provide(provider, sources));
  }
  return out;
}

/** Flat rows t·L + position of each text's pooled token (transformers' CLIP pooling rule). */
export function textPoolRows(texts: readonly number[][], eos: number): HostTensor {
  const rows = texts.map((ids, t) => {
    let at = 0;
    if (eos === 2)
      ids.forEach((id, i) => {
        if (id > ids[at]) at = i;
      });
    else at = Math.max(0, ids.indexOf(eos));
    return t * ids.length + at;
  });
  return { shape: [rows.length], data: new Float32Array(rows) };
}

/** A video as decoded frames; `fps` is their own rate when known (then they are sampled). */
export interface VideoFrames {
  frames: readonly RgbImage[];
  name: string;
  fps?: number;
}

export interface MediaInputs {
  inputs: Map<string, HostTensor>;
  pixels: HostTensor;
  /** The tensors of the preprocess section's branches by graph input (DeepSeek-VL's high_res_pixel_values). */
  branches: Record<string, HostTensor>;
  /** crop_to_patches: each image's view count (the processor's num_patches); empty otherwise. */
  views: number[];
  /** Patch grids of the images, then of the videos (Qwen graphs). */
  grids: Grid[];
  tiles: [number, number][];
  sizes: [number, number][];
  /** What the token layout needs of each image and video, in row order. */
  items: LayoutItem[];
}

/**
 * Every input of a graph for decoded images (and videos, for graphs that take them): preprocessed
 * pixel values, images' rows first, then videos', and the inputs computed from their grids or tiles.
 */
export function imageInputs(
  program: Program,
  images: readonly RgbImage[],
  names: readonly string[],
  videos: readonly VideoFrames[] = [],
  texts: number[][] = [],
): MediaInputs {
  const options = { cropping: images.length <= 2 };
  const stills = images.map((img, i) => preprocessImage(program.preprocess, img, names[i], options));
  const clips = videos.map((v) => preprocessVideo(program.preprocess, v.frames, v.name, v.fps));
  return preprocessedInputs(
    program,
    stills,
    names,
    clips,
    videos.map((v) => v.name),
    texts,
  );
}

/** Every input of a graph for images (and videos) already preprocessed, one by one, with the graph's steps. */
export function preprocessedInputs(
  program: Program,
  stills: readonly Preprocessed[],
  names: readonly string[],
  clips: readonly PreprocessedVideo[] = [],
  clipNames: readonly string[] = [],
  texts: number[][] = [],
): MediaInputs {
  const { tensor, grids, tiles, sizes, branches = {}, views = [] } = batchImages([...stills, ...clips], [...names, ...clipNames]);
  const items: LayoutItem[] = [
    ...itemsFromGeometry(
      names,
      stills.map((s) => s.grid as Grid),
      stills.map((s) => s.tiles as [number, number]),
      stills.map((s) => s.tokens),
      stills.map((s) => s.views),
    ),
    ...clips.map((c, i): LayoutItem => ({ kind: "video", source: clipNames[i], grid: c.grid, secondsPerGrid: c.secondsPerGrid })),
  ];
  const first = program.graph.inputs[0];
  const inputName = first?.name ?? "pixel_values";
  // A graph input with one more leading axis takes the views as one prompt's batch ([1, V, 3, H, W], Idefics3's).
  const rank = first ? program.graph.nodes[first.node].shape.length : tensor.shape.length;
  const pixels = rank === tensor.shape.length + 1 ? { shape: [1, ...tensor.shape], data: tensor.data } : tensor;
  return {
    sizes,
    inputs: new Map([
      [inputName, pixels],
      ...Object.entries(branches),
      ...providedInputs(
        program,
        { grids, tiles, sizes, texts, images: stills.length },
        texts.length ? "the images and texts" : "the images",
      ),
    ]),
    pixels,
    branches,
    views,
    grids,
    tiles,
    items,
  };
}
