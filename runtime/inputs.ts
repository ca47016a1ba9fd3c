import type { Program } from "../compiler/elaborate/elaborate.ts";
import type { InputProvider } from "../compiler/ir/preprocess.ts";
import { InputError } from "./executor.ts";
import type { RgbImage } from "./image/decode.ts";
import { qwenRasterOrder, qwenRope, qwenSegments, qwenWindowPatchOrder, qwenWindows } from "./image/qwen.ts";
import { deepseekAssembly } from "./image/tiles.ts";
import { itemsFromGeometry } from "./layout/items.ts";
import type { LayoutItem } from "./layout/sequence.ts";
import { batchImages, preprocessImage, preprocessVideo } from "./preprocess.ts";
import type { HostTensor } from "./tensor.ts";

export type Grid = [number, number, number];

function provide(p: InputProvider, grids: Grid[], tiles: [number, number][]): HostTensor {
  switch (p.kind) {
    case "tile_assembly": {
      const rows = deepseekAssembly(tiles, p.side);
      return { shape: [rows.length], data: new Float32Array(rows) };
    }
    case "image_segments": return qwenSegments(grids);
    case "raster_order": return qwenRasterOrder(grids, p.merge, p.window);
    case "rope2d": return qwenRope(grids, p.headDim, p.theta, p.merge, p.part);
    case "windows": {
      if (p.part === "order") return qwenWindowPatchOrder(grids, p.merge, p.window);
      const w = qwenWindows(grids, p.merge, p.window);
      const values = p.part === "unorder" ? w.inverse : w.bounds;
      return { shape: [values.length], data: new Float32Array(values) };
    }
  }
}

/** The inputs a graph computes from the images' grids (attention segments, rotary tables). */
export function providedInputs(program: Program, grids: Grid[], tiles: [number, number][], source: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const { input, provider } of program.providers) {
    const fromTiles = provider.kind === "tile_assembly";
    if (fromTiles ? tiles.length === 0 : grids.length === 0) {
      throw new InputError(`graph input '${input}' is computed from the images' ${fromTiles ? "tiles" : "grids"}, but ${source} gives none (a --pixel-values file needs ${fromTiles ? "images_spatial_crop" : "grid_thw"})`);
    }
    out.set(input, provide(provider, grids, tiles));
  }
  return out;
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
  /** Patch grids of the images, then of the videos (Qwen graphs). */
  grids: Grid[];
  tiles: [number, number][];
  /** What the token layout needs of each image and video, in row order. */
  items: LayoutItem[];
}

/**
 * Every input of a graph for decoded images (and videos, for graphs that take them): preprocessed
 * pixel values, images' rows first, then videos', and the inputs computed from their grids or tiles.
 */
export function imageInputs(program: Program, images: readonly RgbImage[], names: readonly string[], videos: readonly VideoFrames[] = []): MediaInputs {
  const options = { cropping: images.length <= 2 };
  const stills = images.map((img, i) => preprocessImage(program.preprocess, img, names[i], options));
  const clips = videos.map((v) => preprocessVideo(program.preprocess, v.frames, v.name, v.fps));
  const { tensor, grids, tiles } = batchImages([...stills, ...clips], [...names, ...videos.map((v) => v.name)]);
  const items: LayoutItem[] = [
    ...itemsFromGeometry(names, stills.map((s) => s.grid as Grid), stills.map((s) => s.tiles as [number, number])),
    ...clips.map((c, i): LayoutItem => ({ kind: "video", source: videos[i].name, grid: c.grid, secondsPerGrid: c.secondsPerGrid })),
  ];
  const inputName = program.graph.inputs[0]?.name ?? "pixel_values";
  return { inputs: new Map([[inputName, tensor], ...providedInputs(program, grids, tiles, "the images")]), pixels: tensor, grids, tiles, items };
}
