/** Image preprocessing, as a graph file's `preprocess` section declares it. */
export type ResampleFilter = "nearest" | "bilinear" | "bicubic";

export type PreprocessStep =
  | { op: "convert_rgb" }
  | { op: "resize"; width: number; height: number; filter: ResampleFilter }
  | { op: "resize_shortest"; size: number; filter: ResampleFilter }
  | { op: "center_crop"; width: number; height: number }
  | { op: "rescale"; factor: number }
  | { op: "normalize"; mean: number[]; std: number[] };
