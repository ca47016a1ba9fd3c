import type { Program } from "../../compiler/elaborate/elaborate.ts";
import type { RgbImage } from "../image/decode.ts";
import type { Grid } from "../inputs.ts";
import { preprocessImage } from "../preprocess.ts";
import type { LayoutItem } from "./sequence.ts";

/** What the layout needs of images that have been preprocessed: their grids or tiles, in order. */
export function itemsFromGeometry(sources: readonly string[], grids: readonly Grid[], tiles: readonly [number, number][]): LayoutItem[] {
  return sources.map((source, i) => ({ kind: "image", source, ...(grids[i] ? { grid: grids[i] } : {}), ...(tiles[i] ? { tiles: tiles[i] } : {}) }));
}

/** Layout items of decoded images, through the graph's own preprocessing (so the grids are the ones a run uses). */
export function layoutItemsOf(program: Program, images: readonly RgbImage[], sources: readonly string[]): LayoutItem[] {
  const options = { cropping: images.length <= 2 };
  const done = images.map((img, i) => preprocessImage(program.preprocess, img, sources[i], options));
  return itemsFromGeometry(sources, done.map((d) => d.grid as Grid), done.map((d) => d.tiles as [number, number]));
}
