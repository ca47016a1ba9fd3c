/** Image preprocessing, as a graph file's `preprocess` section declares it. */
export type ResampleFilter = "nearest" | "bilinear" | "bicubic" | "lanczos";

export type PreprocessStep =
  | { op: "convert_rgb" }
  | { op: "resize"; width: number; height: number; filter: ResampleFilter }
  | { op: "resize_shortest"; size: number; filter: ResampleFilter }
  | { op: "center_crop"; width: number; height: number }
  | { op: "rescale"; factor: number }
  | { op: "normalize"; mean: number[]; std: number[] }
  /** Qwen2-VL's smart_resize: both sides multiples of `factor`, pixel count within [minPixels, maxPixels]. */
  | { op: "smart_resize"; factor: number; minPixels: number; maxPixels: number; filter: ResampleFilter }
  /**
   * Videos only (still images skip it): frames sampled at `fps` from the source rate when it is known,
   * then each frame sized by smart_resize within [minPixels, a cap that shares totalPixels out over the frames].
   */
  | {
      op: "video_frames";
      /** Frames per second to sample at. */
      fps: number;
      minFrames: number;
      maxFrames: number;
      /** Even frame counts: Qwen2-VL's utils round to even, Qwen2.5-VL's floor (after capping at the total). */
      rounding: "round" | "floor";
      minPixels: number;
      maxPixels: number;
      /** Pixel budget of all frames together. */
      totalPixels: number;
    }
  /** Flatten into Qwen2-VL's patch rows (a still image duplicated to `temporal` frames); images concatenate. */
  | { op: "qwen_patches"; temporal: number; patch: number; merge: number }
  /**
   * DeepSeek-VL2 views: a global view padded to tile x tile, then the image padded to the best
   * canvas of (m·tile, n·tile), m·n <= maxTiles, cut into tiles (one tile when cropping is off);
   * the remaining steps run on every view.
   */
  | { op: "tiles"; tile: number; maxTiles: number; fill: number }
  /**
   * LLaVA-NeXT anyres views: the image squashed to tile x tile, then resized into the best of the
   * (height, width) pinpoints, padded black and cut into tiles; the steps after it run on every view.
   * `side` is the tokens per tile side (tile / patch), for the image's token count.
   */
  | { op: "anyres"; tile: number; pinpoints: [number, number][]; side: number }
  /**
   * DeepSeek-VL's processors: the long side resized to `size` (the short one truncated, as deepseek-ai's
   * VLMImageProcessor does, or rounded half to even, as transformers' do; at least `minSide`), PIL bicubic,
   * centred on a size x size canvas of `background`.
   */
  | { op: "pad_square"; size: number; background: number[]; minSide: number; rounding: "trunc" | "round" }
  /**
   * GOT-OCR2's and InternVL's crop_to_patches: tile x tile tiles of the image resized to the grid (at most
   * `maxTiles`, at least `minTiles`) closest to its aspect ratio, then a thumbnail when there is more than
   * one; the steps after it run on every view. `tokens` is each view's token count, for the layout.
   */
  | { op: "crop_to_patches"; tile: number; minTiles: number; maxTiles: number; thumbnail: boolean; filter: ResampleFilter; tokens: number }
  /**
   * Idefics3's resize: the long side to `size`, the short one int(size / aspect ratio), plus one when
   * odd with `even` (the processor keeps it even), at least 1.
   */
  | { op: "resize_longest"; size: number; even: boolean; filter: ResampleFilter }
  /**
   * Idefics3's and SmolVLM's image splitting: both sides resized up to multiples of `tile` (the long one
   * first, the short one from the aspect ratio), cut into tile x tile tiles row by row, then the whole
   * image resized to one tile as the global view; an image of one tile is its only view, and without
   * `split` the image is resized to one tile. The steps after it run on every view; `tiles_w` and
   * `tiles_h` are the grid (0 when not split), `tokens` each view's count.
   */
  | { op: "split_grid"; tile: number; split: boolean; filter: ResampleFilter; tokens: number }
  /**
   * Pixtral's and Mistral 3's native resolution: the image scaled down (floor) to fit `longest` x
   * `longest` when larger, both sides then rounded up to multiples of `multiple` (the patch times the
   * spatial merge); its grid is (1, height / patch, width / patch). Images of different sizes are
   * batched zero-padded to the largest, with their sizes (the processor's image_sizes).
   */
  | { op: "fit_patches"; longest: number; multiple: number; patch: number; filter: ResampleFilter }
  /**
   * SigLIP 2 NaFlex's resize: the largest scale (a binary search, as get_image_size_for_max_num_patches
   * does) at which both sides, rounded up to multiples of `patch`, give at most `maxPatches` patches.
   */
  | { op: "resize_max_patches"; patch: number; maxPatches: number; filter: ResampleFilter }
  /**
   * SigLIP 2 NaFlex's patches: [maxPatches, patch · patch · 3] rows of the image's patches in raster order,
   * each flattened (row, column, channel), zero rows after them; the grid is (1, height / patch, width / patch).
   */
  | { op: "flat_patches"; patch: number; maxPatches: number }
  /**
   * Gemma 3's pan and scan: an image whose aspect ratio is at least `minRatio` is also cut into 2 to
   * `maxCrops` crops along its long side (each at least `minCrop` px); the image and its crops are the
   * views the steps after it run on; not `enabled`, the image alone. The layout's `views` is 1 + the crops,
   * `run --out` writes num_crops.
   */
  | { op: "pan_and_scan"; enabled: boolean; minCrop: number; maxCrops: number; minRatio: number }
  /** A second image tensor, graph input `input`: `steps` run on a copy of the image at this point; the main line goes on. */
  | { op: "branch"; input: string; steps: PreprocessStep[] };

/** The graph inputs a preprocess section's branches make, besides its main pixel values. */
export function branchInputs(steps: readonly PreprocessStep[]): string[] {
  return steps.flatMap((s) => (s.op === "branch" ? [s.input] : []));
}

/** Inputs the runtime computes from the preprocessed images' patch grids. */
export type InputProvider =
  /** Cumulative patch counts per image (and temporal slice): attention segments, like cu_seqlens. */
  | { kind: "image_segments" }
  /**
   * Qwen2-VL's 2-D vision rotary table, cos or sin, [patches, headDim], rows in patch order; `interleaved`:
   * Pixtral's axial table, height and width taking alternate frequencies of one spectrum instead of one each.
   */
  | { kind: "rope2d"; part: "cos" | "sin"; headDim: number; theta: number; merge: number; interleaved: boolean }
  /**
   * For each patch of each image, in raster order, its row among the patches of the zero-padded batch
   * [images · (H/p) · (W/p)], H x W the largest grid (Pixtral: the padded images' real patches).
   */
  | { kind: "unpad_rows" }
  /**
   * transformers' bilinear (align_corners) resampling of a side x side position table to each Qwen grid, as
   * 4 taps per patch in merge-block order: the cells (`index`, [patches · 4]) or their weights ([patches, 4]).
   */
  | { kind: "interp_taps"; side: number; merge: number; part: "index" | "weight" }
  /** [images, length]: 1 for each image's real patches, 0 for the padding rows after them (SigLIP 2's pixel_attention_mask). */
  | { kind: "patch_mask"; length: number }
  /**
   * [images, length, size · size]: row r < h·w holds the weights that resize a size x size table to the
   * image's h x w grid at cell r (torch's bilinear interpolate with antialias); padding rows repeat row 0.
   */
  | { kind: "position_weights"; size: number; length: number }
  /** For each merge x merge window of each image (raster order) and each patch in it (row-major), the patch's raster row (Mistral 3's patch merger). */
  | { kind: "merge_order"; merge: number }
  /**
   * For each patch in raster order (per image: t, h, w), its row in the processor's merge-window order,
   * or, with `window` > 0, in Qwen2.5-VL's window order.
   */
  | { kind: "raster_order"; merge: number; window: number }
  /** Qwen2.5-VL: patch rows in window order (`order`), merged rows back from window order (`unorder`), window boundaries (`segments`). */
  | { kind: "windows"; part: "order" | "unorder" | "segments"; merge: number; window: number }
  /** DeepSeek-VL2 token assembly: rows of [projected view tokens..., image_newline, view_separator] in LLM order. */
  | { kind: "tile_assembly"; side: number }
  /** LLaVA-NeXT token assembly: rows of [view tokens..., image_newline]: base view, unpadded mosaic rows with newlines. */
  | { kind: "anyres_assembly"; side: number }
  /**
   * Per text, the flat row (t·L + position) of the token its embedding is pooled from: CLIP's end-of-text
   * token, the first `eos` (or, with the legacy eos id 2, the largest id, as transformers does).
   */
  | { kind: "text_pool"; eos: number }
  /** [images, texts], 1 where image i goes with text i: the matching pairs a contrastive loss rewards. */
  | { kind: "pairs" }
  /** [size · size], q − k + size − 1 for q, k < size: rows of a relative-position table (SAM), fixed by the graph. */
  | { kind: "relative_index"; size: number };
