import type { Grid } from "../geometry.ts";
import type { LayoutItem } from "./types.ts";

/** What the layout needs of images that have been preprocessed: their grids or tiles, in order. */
export function itemsFromGeometry(
  sources: readonly string[],
  grids: readonly Grid[],
  tiles: readonly [number, number][],
  tokens: readonly (number | undefined)[] = [],
  views: readonly (number | undefined)[] = [],
): LayoutItem[] {
  return sources.map((source, i) => ({
    kind: "image",
    source,
    ...(grids[i] ? { grid: grids[i] } : {}),
    ...(tiles[i] ? { tiles: tiles[i] } : {}),
    ...(tokens[i] !== undefined ? { tokens: tokens[i] } : {}),
    ...(views[i] !== undefined ? { views: views[i] } : {}),
  }));
}
