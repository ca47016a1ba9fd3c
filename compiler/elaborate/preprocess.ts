import type { InputProvider, PreprocessStep, ResampleFilter } from "../../core/preprocess.ts";
import { describe, type Value } from "./values.ts";

const FILTERS: readonly ResampleFilter[] = ["nearest", "bilinear", "bicubic", "lanczos"];

class Bad {
  constructor(readonly message: string) {}
}

function num(v: Value | undefined, what: string): number | Bad {
  if (v?.t === "float") return v.v;
  if (v?.t === "int" && typeof v.v === "number") return v.v;
  return new Bad(`${what} must be a number, got ${v ? describe(v) : "nothing"}`);
}

function triple(v: Value | undefined, what: string): number[] | Bad {
  const out = v?.t === "list" && v.items.length === 3 ? v.items.map((i) => num(i, what)) : [];
  return out.length === 3 && out.every((x): x is number => typeof x === "number") ? out : new Bad(`${what} must be a list of 3 numbers`);
}

/** PIL's resample codes, as preprocessor_config.json stores them. */
const PIL_FILTERS: Record<number, ResampleFilter> = { 0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic" };

function filterOf(v: Value | undefined, fallback: ResampleFilter): ResampleFilter | Bad {
  if (v === undefined) return fallback;
  if (v.t === "int" && typeof v.v === "number")
    return PIL_FILTERS[v.v] ?? new Bad(`resample ${v.v} is not supported (PIL codes 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic)`);
  if (v.t === "string" && (FILTERS as readonly string[]).includes(v.v)) return v.v as ResampleFilter;
  return new Bad(`filter must be one of ${FILTERS.map((f) => `"${f}"`).join(", ")}`);
}

/** Checks one `preprocess` step's arguments; returns the step or an error message. */
export function toPreprocessStep(name: string, pos: Value[], named: Map<string, Value>): PreprocessStep | string {
  const arg = (i: number, key: string): Value | undefined => pos[i] ?? named.get(key);
  const firstError = (...xs: unknown[]): string | undefined => xs.find((x): x is Bad => x instanceof Bad)?.message;
  switch (name) {
    case "convert_rgb":
      return { op: "convert_rgb" };
    case "resize": {
      const width = num(arg(0, "width"), "resize width");
      const height = num(arg(1, "height") ?? arg(0, "width"), "resize height");
      const filter = filterOf(named.get("filter"), "bilinear");
      return (
        firstError(width, height, filter) ?? {
          op: "resize",
          width: width as number,
          height: height as number,
          filter: filter as ResampleFilter,
        }
      );
    }
    case "resize_shortest": {
      const size = num(arg(0, "size"), "resize_shortest size");
      const filter = filterOf(named.get("filter"), "bicubic");
      return firstError(size, filter) ?? { op: "resize_shortest", size: size as number, filter: filter as ResampleFilter };
    }
    case "center_crop": {
      const width = num(arg(0, "width"), "center_crop width");
      const height = num(arg(1, "height") ?? arg(0, "width"), "center_crop height");
      return firstError(width, height) ?? { op: "center_crop", width: width as number, height: height as number };
    }
    case "rescale": {
      const factor = num(arg(0, "factor"), "rescale factor");
      return firstError(factor) ?? { op: "rescale", factor: factor as number };
    }
    case "normalize": {
      const mean = triple(arg(0, "mean"), "normalize mean");
      const std = triple(arg(1, "std"), "normalize std");
      return firstError(mean, std) ?? { op: "normalize", mean: mean as number[], std: std as number[] };
    }
    case "smart_resize": {
      const factor = num(arg(0, "factor"), "smart_resize factor");
      const minPixels = num(arg(1, "min_pixels"), "smart_resize min_pixels");
      const maxPixels = num(arg(2, "max_pixels"), "smart_resize max_pixels");
      const filter = filterOf(named.get("filter"), "bicubic");
      return (
        firstError(factor, minPixels, maxPixels, filter) ?? {
          op: "smart_resize",
          factor: factor as number,
          minPixels: minPixels as number,
          maxPixels: maxPixels as number,
          filter: filter as ResampleFilter,
        }
      );
    }
    case "video_frames": {
      const fps = num(named.get("fps"), "video_frames fps");
      const minFrames = num(named.get("min_frames"), "video_frames min_frames");
      const maxFrames = num(named.get("max_frames"), "video_frames max_frames");
      const minPixels = num(named.get("min_pixels"), "video_frames min_pixels");
      const maxPixels = num(named.get("max_pixels"), "video_frames max_pixels");
      const totalPixels = num(named.get("total_pixels"), "video_frames total_pixels");
      const rounding = named.get("rounding");
      if (rounding?.t !== "string" || (rounding.v !== "round" && rounding.v !== "floor"))
        return `video_frames rounding must be "round" or "floor"`;
      return (
        firstError(fps, minFrames, maxFrames, minPixels, maxPixels, totalPixels) ?? {
          op: "video_frames",
          fps: fps as number,
          minFrames: minFrames as number,
          maxFrames: maxFrames as number,
          rounding: rounding.v,
          minPixels: minPixels as number,
          maxPixels: maxPixels as number,
          totalPixels: totalPixels as number,
        }
      );
    }
    case "qwen_patches": {
      const temporal = num(arg(0, "temporal"), "qwen_patches temporal");
      const patch = num(arg(1, "patch"), "qwen_patches patch");
      const merge = num(arg(2, "merge"), "qwen_patches merge");
      return (
        firstError(temporal, patch, merge) ?? {
          op: "qwen_patches",
          temporal: temporal as number,
          patch: patch as number,
          merge: merge as number,
        }
      );
    }
    case "pad_square": {
      const size = num(arg(0, "size"), "pad_square size");
      const background = triple(arg(1, "background"), "pad_square background");
      const minSide = arg(2, "min_side") === undefined ? 14 : num(arg(2, "min_side"), "pad_square min_side");
      const rounding = named.get("rounding") ?? { t: "string", v: "trunc" };
      if (rounding.t !== "string" || (rounding.v !== "trunc" && rounding.v !== "round"))
        return `pad_square rounding must be "trunc" (deepseek-ai's VLMImageProcessor) or "round" (transformers' processors)`;
      return (
        firstError(size, background, minSide) ?? {
          op: "pad_square",
          size: size as number,
          background: background as number[],
          minSide: minSide as number,
          rounding: rounding.v,
        }
      );
    }
    case "anyres": {
      const tile = num(arg(0, "tile"), "anyres tile");
      const side = num(arg(2, "side"), "anyres side");
      const list = arg(1, "pinpoints");
      const pinpoints =
        list?.t === "list"
          ? list.items.map((p) => (p.t === "list" && p.items.length === 2 ? p.items.map((x) => num(x, "anyres pinpoint")) : null))
          : null;
      if (!pinpoints || pinpoints.some((p) => p === null || p.some((x) => x instanceof Bad)))
        return "anyres pinpoints must be a list of [height, width] pairs";
      return (
        firstError(tile, side) ?? { op: "anyres", tile: tile as number, pinpoints: pinpoints as [number, number][], side: side as number }
      );
    }
    case "crop_to_patches": {
      const tile = num(arg(0, "tile"), "crop_to_patches tile");
      const minTiles = num(arg(1, "min_tiles"), "crop_to_patches min_tiles");
      const maxTiles = num(arg(2, "max_tiles"), "crop_to_patches max_tiles");
      const tokens = num(named.get("tokens"), "crop_to_patches tokens");
      const thumbnail = named.get("thumbnail") ?? { t: "bool", v: true };
      const filter = filterOf(named.get("filter"), "bicubic");
      if (thumbnail.t !== "bool") return "crop_to_patches thumbnail must be a bool";
      return (
        firstError(tile, minTiles, maxTiles, tokens, filter) ?? {
          op: "crop_to_patches",
          tile: tile as number,
          minTiles: minTiles as number,
          maxTiles: maxTiles as number,
          thumbnail: thumbnail.v,
          filter: filter as ResampleFilter,
          tokens: tokens as number,
        }
      );
    }
    case "resize_longest": {
      const size = num(arg(0, "size"), "resize_longest size");
      const even = named.get("even") ?? { t: "bool", v: false };
      const filter = filterOf(named.get("filter"), "bicubic");
      if (even.t !== "bool") return "resize_longest even must be a bool";
      return firstError(size, filter) ?? { op: "resize_longest", size: size as number, even: even.v, filter: filter as ResampleFilter };
    }
    case "fit_patches": {
      const longest = num(arg(0, "longest"), "fit_patches longest");
      const multiple = num(arg(1, "multiple"), "fit_patches multiple");
      const patch = num(arg(2, "patch"), "fit_patches patch");
      const filter = filterOf(named.get("filter"), "bicubic");
      const bad = firstError(longest, multiple, patch, filter);
      if (bad) return bad;
      if ((multiple as number) % (patch as number) !== 0)
        return `fit_patches multiple (${multiple as number}) must be a multiple of the patch (${patch as number})`;
      return {
        op: "fit_patches",
        longest: longest as number,
        multiple: multiple as number,
        patch: patch as number,
        filter: filter as ResampleFilter,
      };
    }
    case "resize_max_patches":
    case "flat_patches": {
      const patch = num(arg(0, "patch"), `${name} patch`);
      const maxPatches = num(arg(1, "max_patches"), `${name} max_patches`);
      const filter = filterOf(named.get("filter"), "bilinear");
      const bad = firstError(patch, maxPatches, filter);
      if (bad) return bad;
      return name === "flat_patches"
        ? { op: "flat_patches", patch: patch as number, maxPatches: maxPatches as number }
        : { op: "resize_max_patches", patch: patch as number, maxPatches: maxPatches as number, filter: filter as ResampleFilter };
    }
    case "pan_and_scan": {
      const minCrop = num(arg(0, "min_crop"), "pan_and_scan min_crop");
      const maxCrops = num(arg(1, "max_crops"), "pan_and_scan max_crops");
      const minRatio = num(arg(2, "min_ratio"), "pan_and_scan min_ratio");
      const enabled = named.get("enabled") ?? { t: "bool", v: true };
      if (enabled.t !== "bool") return "pan_and_scan enabled must be a bool";
      return (
        firstError(minCrop, maxCrops, minRatio) ?? {
          op: "pan_and_scan",
          enabled: enabled.v,
          minCrop: minCrop as number,
          maxCrops: maxCrops as number,
          minRatio: minRatio as number,
        }
      );
    }
    case "split_grid": {
      const tile = num(arg(0, "tile"), "split_grid tile");
      const tokens = num(named.get("tokens"), "split_grid tokens");
      const split = named.get("split") ?? { t: "bool", v: true };
      const filter = filterOf(named.get("filter"), "bicubic");
      if (split.t !== "bool") return "split_grid split must be a bool";
      return (
        firstError(tile, tokens, filter) ?? {
          op: "split_grid",
          tile: tile as number,
          split: split.v,
          tokens: tokens as number,
          filter: filter as ResampleFilter,
        }
      );
    }
    case "tiles": {
      const tile = num(arg(0, "tile"), "tiles tile");
      const maxTiles = num(arg(1, "max_tiles"), "tiles max_tiles");
      const fill = num(arg(2, "fill"), "tiles fill");
      return firstError(tile, maxTiles, fill) ?? { op: "tiles", tile: tile as number, maxTiles: maxTiles as number, fill: fill as number };
    }
    default:
      return `unknown preprocess step '${name}' (known: convert_rgb, resize, resize_shortest, center_crop, rescale, normalize, smart_resize, video_frames, qwen_patches, tiles, anyres, crop_to_patches, resize_longest, split_grid, fit_patches, resize_max_patches, flat_patches, pan_and_scan, pad_square)`;
  }
}

/** Checks an input's provider call (`input segments: i32[S] = image_segments()`); returns it or an error message. */
export function toInputProvider(name: string, pos: Value[], named: Map<string, Value>): InputProvider | string {
  const arg = (i: number, key: string): Value | undefined => pos[i] ?? named.get(key);
  switch (name) {
    case "image_segments":
      return { kind: "image_segments" };
    case "rope2d": {
      const part = arg(0, "part");
      if (part?.t !== "string" || (part.v !== "cos" && part.v !== "sin")) return `rope2d part must be "cos" or "sin"`;
      const headDim = num(arg(1, "head_dim"), "rope2d head_dim");
      const theta = num(arg(2, "theta"), "rope2d theta");
      const merge = num(arg(3, "merge"), "rope2d merge");
      for (const v of [headDim, theta, merge]) if (v instanceof Bad) return v.message;
      if ((headDim as number) % 4 !== 0) return `rope2d head_dim must be a multiple of 4, got ${headDim as number}`;
      const interleaved = named.get("interleaved") ?? { t: "bool", v: false };
      if (interleaved.t !== "bool") return "rope2d interleaved must be a bool";
      return {
        kind: "rope2d",
        part: part.v,
        headDim: headDim as number,
        theta: theta as number,
        merge: merge as number,
        interleaved: interleaved.v,
      };
    }
    case "raster_order": {
      const merge = num(arg(0, "merge"), "raster_order merge");
      const window = arg(1, "window") === undefined ? 0 : num(arg(1, "window"), "raster_order window");
      if (merge instanceof Bad) return merge.message;
      if (window instanceof Bad) return window.message;
      return { kind: "raster_order", merge, window };
    }
    case "window_order":
    case "window_unorder":
    case "window_segments": {
      const merge = num(arg(0, "merge"), `${name} merge`);
      const window = num(arg(1, "window"), `${name} window`);
      if (merge instanceof Bad) return merge.message;
      if (window instanceof Bad) return window.message;
      const part = name === "window_order" ? "order" : name === "window_unorder" ? "unorder" : "segments";
      return { kind: "windows", part, merge, window };
    }
    case "unpad_rows":
      return { kind: "unpad_rows" };
    case "interp_taps": {
      const part = arg(0, "part");
      if (part?.t !== "string" || (part.v !== "index" && part.v !== "weight")) return `interp_taps part must be "index" or "weight"`;
      const side = num(arg(1, "side"), "interp_taps side");
      const merge = num(arg(2, "merge"), "interp_taps merge");
      if (side instanceof Bad) return side.message;
      return merge instanceof Bad ? merge.message : { kind: "interp_taps", side, merge, part: part.v };
    }
    case "patch_mask": {
      const length = num(arg(0, "length"), "patch_mask length");
      return length instanceof Bad ? length.message : { kind: "patch_mask", length };
    }
    case "position_weights": {
      const size = num(arg(0, "size"), "position_weights size");
      const length = num(arg(1, "length"), "position_weights length");
      if (size instanceof Bad) return size.message;
      return length instanceof Bad ? length.message : { kind: "position_weights", size, length };
    }
    case "merge_order": {
      const merge = num(arg(0, "merge"), "merge_order merge");
      return merge instanceof Bad ? merge.message : { kind: "merge_order", merge };
    }
    case "tile_assembly": {
      const side = num(arg(0, "side"), "tile_assembly side");
      return side instanceof Bad ? side.message : { kind: "tile_assembly", side };
    }
    case "anyres_assembly": {
      const side = num(arg(0, "side"), "anyres_assembly side");
      return side instanceof Bad ? side.message : { kind: "anyres_assembly", side };
    }
    case "text_pool": {
      const eos = num(arg(0, "eos_token_id"), "text_pool eos_token_id");
      return eos instanceof Bad ? eos.message : { kind: "text_pool", eos };
    }
    case "pairs":
      return { kind: "pairs" };
    case "relative_index": {
      const size = num(arg(0, "size"), "relative_index size");
      return size instanceof Bad ? size.message : { kind: "relative_index", size };
    }
    default:
      return `unknown input provider '${name}' (known: image_segments, rope2d, unpad_rows, merge_order, interp_taps, patch_mask, position_weights, raster_order, window_order, window_unorder, window_segments, tile_assembly, anyres_assembly, text_pool, pairs, relative_index)`;
  }
}
