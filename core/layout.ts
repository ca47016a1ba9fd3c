import type { Dim } from "./dims.ts";

/**
 * A graph's token layout, as its `layout` section declares it: how one image (or video) expands into
 * LLM tokens and which position ids the LLM gives them. Counts are dims over the per-item symbols
 * `grid_t`, `grid_h`, `grid_w` (Qwen patch grids), `tiles_w`, `tiles_h` (local tiles, or split_grid's grid) and `image_tokens`
 * (the count preprocessing decides, LLaVA-NeXT) and `views` (the views preprocessing made of the item: an image and
 * its pan-and-scan crops).
 */
export interface Layout {
  /** Special tokens by text; `id` from the config, or null when only a tokenizer knows it. */
  tokens: { text: string; id: number | null }[];
  image: LayoutPiece[];
  video: LayoutPiece[] | null;
  positions: PositionScheme;
  /** How the prompt around the items is made, where the processor adds to it (PaliGemma). */
  prompt?: PromptRules;
}

/** PaliGemma's processor: images before a prompt without marks, `<bos>` after the last one, "\n" at the end, no BOS of the tokenizer's own. */
export interface PromptRules {
  /** A prompt with no `<image>` marks gets one per image before it. */
  imagesFirst: boolean;
  /** A declared token placed right after the last item. */
  afterItems: string | null;
  /** Text put at the end of the prompt. */
  end: string;
  /** Whether the tokenizer adds its own special tokens (a BOS) as it does by default. */
  specialTokens: boolean;
}

/**
 * One piece of an item's expansion: a declared token; a span, `count` of the item's output rows in
 * order (an item may have several, Idefics3's one per tile); plain text the tokenizer reads (`{row}` and
 * `{col}` in it are the cell's 1-based row and column inside a grid); or a grid of `rows` x `cols`
 * cells, `rowEnd` after each row and `after` once after the rows when there are any.
 */
export type LayoutPiece =
  | { kind: "token"; text: string }
  | { kind: "span"; text: string; count: Dim }
  | { kind: "text"; text: string }
  | { kind: "grid"; rows: Dim; cols: Dim; cell: LayoutPiece[]; rowEnd: LayoutPiece[]; after: LayoutPiece[] }
  /** `pieces` once when `count` is above 0 (Gemma 3's words around an image that has pan-and-scan crops). */
  | { kind: "when"; count: Dim; pieces: LayoutPiece[] };

export type PositionScheme =
  /** Ordinary 1-D positions 0..L-1: nothing to report. */
  | { kind: "sequential" }
  /**
   * Qwen2-VL's M-RoPE (get_rope_index): text advances all three axes together; a span gets
   * (T(t), h, w) over its merged grid, T(t) = t, or floor(t · seconds per grid step · tokensPerSecond)
   * for Qwen2.5-VL videos.
   */
  | { kind: "mrope"; merge: number; tokensPerSecond: number | null };

/** The symbols a layout's counts may use, bound per image or video. */
export const LAYOUT_SYMBOLS = ["grid_t", "grid_h", "grid_w", "tiles_w", "tiles_h", "image_tokens", "views"] as const;
