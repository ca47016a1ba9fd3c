// LLaVA-NeXT's pixel values as transformers' LlavaNextImageProcessor gives them: [images, max_views, C,
// H, W], each image's views (the squashed whole image, then its tiles) zero-padded to the most views of
// any image in the batch, with image_sizes ((height, width) per image) telling how many views are real.
import { InputError } from "../../core/errors.ts";
import type { PreprocessStep } from "../../core/preprocess.ts";
import type { Program } from "../../core/program.ts";
import type { HostTensor } from "../tensor.ts";
import { selectBestResolution } from "./tiles.ts";

export type AnyresStep = Extract<PreprocessStep, { op: "anyres" }>;

export function anyresStep(program: Program): AnyresStep | undefined {
  return program.preprocess.find((s): s is AnyresStep => s.op === "anyres");
}

/** An image's tiles (across, down) from its (height, width): image_size_to_num_patches' rule. */
export function anyresTiles(step: AnyresStep, [height, width]: readonly [number, number]): [number, number] {
  const [bw, bh] = selectBestResolution(
    width,
    height,
    step.pinpoints.map(([h, w]) => [w, h]),
  );
  return [bw / step.tile, bh / step.tile];
}

const viewsOf = ([across, down]: readonly [number, number]): number => 1 + across * down;

/** Flat views [sum of views, C, H, W] as the processor's padded batch. */
export function padViews(pixels: HostTensor, tiles: readonly (readonly [number, number])[]): HostTensor {
  const views = tiles.map(viewsOf);
  const most = Math.max(0, ...views);
  const [, ...view] = pixels.shape;
  const size = view.reduce((a, b) => a * b, 1);
  const data = new Float32Array(tiles.length * most * size);
  let from = 0;
  views.forEach((n, i) => {
    data.set(pixels.data.subarray(from * size, (from + n) * size), i * most * size);
    from += n;
  });
  return { shape: [tiles.length, most, ...view], data };
}

/** The views of a padded batch that run (each image's first 1 + tiles), flat; padding views are dropped. */
export function unpadViews(pixels: HostTensor, tiles: readonly (readonly [number, number])[]): HostTensor {
  const [images, most, ...view] = pixels.shape;
  if (tiles.length !== images)
    throw new InputError(`pixel_values [${pixels.shape.join(", ")}] holds ${images} images, but image_sizes has ${tiles.length} rows`);
  const size = view.reduce((a, b) => a * b, 1);
  const views = tiles.map(viewsOf);
  const bad = views.findIndex((n) => n > most);
  if (bad >= 0)
    throw new InputError(
      `image ${bad} of pixel_values needs ${views[bad]} views (its image_sizes row gives ${tiles[bad].join("x")} tiles), but the batch holds ${most} per image`,
    );
  const data = new Float32Array(views.reduce((a, b) => a + b, 0) * size);
  let to = 0;
  views.forEach((n, i) => {
    data.set(pixels.data.subarray(i * most * size, (i * most + n) * size), to * size);
    to += n;
  });
  return { shape: [to, ...view], data };
}
