// What the token layout is made of and gives, as data.
import type { Grid } from "../geometry.ts";

/** An image or video as the layout sees it: what preprocessing made of it. */
export interface LayoutItem {
  kind: "image" | "video";
  source: string;
  /** Qwen patch grid (t, h, w). */
  grid?: Grid;
  /** DeepSeek-VL2 local tiles (width, height). */
  tiles?: [number, number];
  /** Image tokens, where preprocessing decides them (LLaVA-NeXT): the layout's `image_tokens`. */
  tokens?: number;
  /** The views preprocessing made of it (crop_to_patches, pan_and_scan): the layout's `views`. */
  views?: number;
  /** Qwen2.5-VL videos: seconds per temporal grid step (temporal_patch_size / fps). */
  secondsPerGrid?: number;
}

export type Segment =
  | { kind: "text"; start: number | null; length: number | null; text: string; ids: number[] | null }
  | { kind: "special"; start: number | null; length: 1; token: string; id: number | null }
  | {
      kind: "image" | "video";
      start: number | null;
      length: number;
      index: number;
      source: string;
      token: string;
      id: number | null;
      grid_thw?: Grid;
      tiles?: [number, number];
    };

export interface TokenLayout {
  segments: Segment[];
  /** Sequence length; null when text is present but no tokenizer was given. */
  length: number | null;
  input_ids: number[] | null;
  /** M-RoPE (t, h, w) position ids, 3 x length, for graphs whose layout declares them. */
  position_ids?: [number[], number[], number[]];
  rope_delta?: number;
  /** Rows the items' spans take in total: the rows of image_embeds, in order. */
  image_rows: number;
}
