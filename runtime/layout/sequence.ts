import { TesseraeError } from "../../core/errors.ts";
import { evalDim, type Dim, type DimEnv } from "../../core/dims.ts";
import type { Layout, LayoutPiece } from "../../core/layout.ts";
import type { LayoutItem, Segment, TokenLayout } from "./types.ts";
import { mropePositions } from "./mrope.ts";
import type { TextTokenizer } from "./encode.ts";

export class LayoutError extends TesseraeError {}

const MARKS = { image: "<image>", video: "<video>" } as const;

/** `<image>` and `<video>` marks in the prompt, each followed by the text up to the next mark. */
function splitPrompt(prompt: string): { before: string; marks: { kind: "image" | "video"; after: string }[] } {
  const parts = prompt.split(/(<image>|<video>)/);
  const marks: { kind: "image" | "video"; after: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) marks.push({ kind: parts[i] === MARKS.image ? "image" : "video", after: parts[i + 1] });
  return { before: parts[0], marks };
}

function envOf(item: LayoutItem): DimEnv {
  const env: Record<string, number> = {};
  if (item.grid) [env.grid_t, env.grid_h, env.grid_w] = item.grid;
  if (item.tiles) [env.tiles_w, env.tiles_h] = item.tiles;
  if (item.tokens !== undefined) env.image_tokens = item.tokens;
  if (item.views !== undefined) env.views = item.views;
  return env;
}

/** A piece of one item's expansion with its counts known: a token, text, or a span of `n` rows. */
type Flat = { kind: "token" | "text"; text: string; n: 1 } | { kind: "span"; text: string; n: number };

function countOf(d: Dim, item: LayoutItem, what: string, least: number): number {
  try {
    const n = evalDim(d, envOf(item));
    if (!Number.isInteger(n) || n < least) throw new LayoutError(`${item.kind} ${item.source}: the layout gives ${n} ${what} for it`);
    return n;
  } catch (e) {
    if (e instanceof LayoutError) throw e;
    throw new LayoutError(
      `${item.kind} ${item.source}: the layout's ${what} need ${(e as Error).message.replace(/^.*symbolic dimension /, "")}, which preprocessing did not give`,
    );
  }
}

/** An item's pieces with grids unrolled, counts evaluated and {row} / {col} filled in. */
function flatten(pieces: readonly LayoutPiece[], item: LayoutItem, cell?: { row: number; col: number }): Flat[] {
  return pieces.flatMap((p): Flat[] => {
    switch (p.kind) {
      case "token":
        return [{ kind: "token", text: p.text, n: 1 }];
      case "text": {
        const text = cell ? p.text.replaceAll("{row}", String(cell.row)).replaceAll("{col}", String(cell.col)) : p.text;
        return [{ kind: "text", text, n: 1 }];
      }
      case "span":
        return [{ kind: "span", text: p.text, n: countOf(p.count, item, "tokens", 1) }];
      case "when":
        return countOf(p.count, item, "count", 0) > 0 ? flatten(p.pieces, item, cell) : [];
      case "grid": {
        const rows = countOf(p.rows, item, "grid rows", 0);
        const cols = countOf(p.cols, item, "grid columns", 0);
        const out: Flat[] = [];
        for (let r = 1; r <= rows; r++) {
          for (let c = 1; c <= cols; c++) out.push(...flatten(p.cell, item, { row: r, col: c }));
          out.push(...flatten(p.rowEnd, item, { row: r, col: cols }));
        }
        if (rows > 0) out.push(...flatten(p.after, item));
        return out;
      }
    }
  });
}

/**
 * The LLM token sequence for a prompt with `<image>` / `<video>` marks (default: one mark per item, no
 * text): each mark expanded as the layout declares, the whole text tokenized at once as the HF
 * processor does (so added tokens and the tokenizer's own BOS behave the same), then cut into segments.
 */
export function buildLayout(
  layout: Layout,
  items: readonly LayoutItem[],
  prompt: string | undefined,
  tokenizer: TextTokenizer | null,
): TokenLayout {
  const rules = layout.prompt;
  const marksOnly = items.map((i) => MARKS[i.kind]).join("");
  // PaliGemma: a prompt without marks has its images before it.
  const given = prompt !== undefined && rules?.imagesFirst && !/<image>|<video>/.test(prompt) ? marksOnly + prompt : prompt;
  const text = (given ?? marksOnly) + (rules?.end ?? "");
  const { before, marks } = splitPrompt(text);
  for (const kind of ["image", "video"] as const) {
    const want = items.filter((i) => i.kind === kind).length;
    const have = marks.filter((m) => m.kind === kind).length;
    if (want !== have)
      throw new LayoutError(
        `the prompt has ${have} ${MARKS[kind]} mark${have === 1 ? "" : "s"}, but ${want} ${kind}${want === 1 ? " was" : "s were"} given`,
      );
  }
  if (items.some((i) => i.kind === "video") && !layout.video) throw new LayoutError("this graph's layout has no video(...) expansion");

  const ids = new Map<string, number | null>();
  for (const t of layout.tokens) {
    const fromTokenizer = tokenizer?.idOf(t.text);
    if (tokenizer && fromTokenizer === undefined) throw new LayoutError(`${tokenizer.source} has no token "${t.text}"`);
    if (fromTokenizer !== undefined && t.id !== null && fromTokenizer !== t.id) {
      throw new LayoutError(`token "${t.text}" is id ${t.id} in the model's config but ${fromTokenizer} in ${tokenizer?.source}`);
    }
    ids.set(t.text, fromTokenizer ?? t.id);
  }

  // Items in prompt order: the i-th <image> mark is the i-th image, likewise for videos.
  const queues = { image: items.filter((i) => i.kind === "image"), video: items.filter((i) => i.kind === "video") };
  const placed = marks.map((m) => {
    const item = queues[m.kind].shift() as LayoutItem;
    const pieces = (m.kind === "image" ? layout.image : layout.video) as LayoutPiece[];
    return { item, index: items.filter((i) => i.kind === m.kind).indexOf(item), pieces: flatten(pieces, item), after: m.after };
  });
  if (rules?.afterItems && placed.length > 0) placed[placed.length - 1].pieces.push({ kind: "token", text: rules.afterItems, n: 1 });

  const segments: Segment[] = [];
  const declared = layout.tokens.map((t) => t.text);
  if (tokenizer) {
    const expanded = before + placed.map((p) => p.pieces.map((q) => q.text.repeat(q.n)).join("") + p.after).join("");
    const all = tokenizer.encode(expanded, { specialTokens: rules?.specialTokens ?? true });
    segmentIds(all, placed, ids, declared, tokenizer, segments);
  } else {
    segmentText(before, ids, declared, segments);
    placed.forEach((p) => {
      for (const q of p.pieces) {
        if (q.kind === "text") segmentText(q.text, ids, declared, segments);
        else pushPiece(segments, q, ids.get(q.text) ?? null, p.item, p.index);
      }
      segmentText(p.after, ids, declared, segments);
    });
  }

  // Offsets are known up to the first text without a tokenizer.
  let at: number | null = 0;
  for (const s of segments) {
    s.start = at;
    at = at === null || s.length === null ? null : at + s.length;
  }
  const known = segments.every((s) => (s.kind === "text" ? s.ids !== null : s.id !== null));
  const length = at;
  const input_ids = known
    ? segments.flatMap((s) => (s.kind === "text" ? (s.ids as number[]) : Array<number>(s.length).fill(s.id as number)))
    : null;
  const image_rows = segments.reduce((a, s) => a + (s.kind === "image" || s.kind === "video" ? s.length : 0), 0);
  const out: TokenLayout = { segments, length, input_ids, image_rows };
  if (layout.positions.kind === "mrope" && length !== null) {
    const { positions, delta } = mropePositions(
      segments,
      layout.positions.merge,
      layout.positions.tokensPerSecond,
      placed.map((p) => p.item),
    );
    out.position_ids = positions;
    out.rope_delta = delta;
  }
  return out;
}

/** One token or span of an item's expansion; a span carries the item's number among the items of its kind. */
function pushPiece(segments: Segment[], piece: Flat, id: number | null, item: LayoutItem, index: number): void {
  if (piece.kind === "span") {
    segments.push({
      kind: item.kind,
      start: 0,
      length: piece.n,
      index,
      source: item.source,
      token: piece.text,
      id,
      ...(item.grid ? { grid_thw: item.grid } : {}),
      ...(item.tiles ? { tiles: item.tiles } : {}),
    });
  } else {
    segments.push({ kind: "special", start: 0, length: 1, token: piece.text, id });
  }
}

/** Text without a tokenizer: declared tokens are recognised, the rest has no ids. */
function segmentText(text: string, ids: Map<string, number | null>, declared: readonly string[], segments: Segment[]): void {
  if (text === "") return;
  const escaped = declared.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const parts = escaped.length ? text.split(new RegExp(`(${escaped.join("|")})`)) : [text];
  parts.forEach((p, i) => {
    if (p === "") return;
    if (i % 2 === 1) segments.push({ kind: "special", start: 0, length: 1, token: p, id: ids.get(p) ?? null });
    else segments.push({ kind: "text", start: 0, length: null, text: p, ids: null });
  });
}

/** Tokenized ids into segments: each of an item's spans, in order, is the next run of its token, `n` long. */
function segmentIds(
  all: readonly number[],
  placed: readonly { item: LayoutItem; index: number; pieces: Flat[] }[],
  ids: Map<string, number | null>,
  declared: readonly string[],
  tokenizer: TextTokenizer,
  segments: Segment[],
): void {
  const specialIds = new Map(declared.map((t) => [ids.get(t) as number, t]));
  let cursor = 0;
  const flushText = (end: number): void => {
    let runStart = cursor;
    for (let i = cursor; i <= end; i++) {
      const special = i < end ? specialIds.get(all[i]) : undefined;
      if (i === end || special !== undefined) {
        if (i > runStart)
          segments.push({
            kind: "text",
            start: 0,
            length: i - runStart,
            text: tokenizer.decode(all.slice(runStart, i)),
            ids: all.slice(runStart, i),
          });
        if (special !== undefined) segments.push({ kind: "special", start: 0, length: 1, token: special, id: all[i] });
        runStart = i + 1;
      }
    }
    cursor = end;
  };
  for (const p of placed) {
    for (const span of p.pieces) {
      if (span.kind !== "span") continue;
      const id = ids.get(span.text) as number;
      let at = all.indexOf(id, cursor);
      while (at >= 0 && !all.slice(at, at + span.n).every((x) => x === id)) at = all.indexOf(id, at + 1);
      if (at < 0)
        throw new LayoutError(
          `${p.item.kind} ${p.item.source}: ${span.n} "${span.text}" tokens were expected in a row after tokenization, but not found`,
        );
      flushText(at);
      pushPiece(segments, span, id, p.item, p.index);
      cursor = at + span.n;
    }
  }
  flushText(all.length);
}
