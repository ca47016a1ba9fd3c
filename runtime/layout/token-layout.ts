import type { Layout } from "../../compiler/ir/layout.ts";
import { buildLayout, LayoutError, type LayoutItem, type TokenLayout } from "./sequence.ts";
import { loadTokenizer } from "./tokenizer.ts";

/**
 * buildLayout with the tokenizer found at `tokenizerPath` (a checkpoint folder or tokenizer.json), if
 * any. With `optional` (items known only from pixel values), a layout that cannot be made is skipped
 * with a note on stderr instead of failing the run.
 */
export function tokenLayout(layout: Layout, items: readonly LayoutItem[], prompt: string | undefined, tokenizerPath: string | undefined, optional = false): TokenLayout | null {
  try {
    return buildLayout(layout, items, prompt, tokenizerPath === undefined ? null : loadTokenizer(tokenizerPath));
  } catch (e) {
    if (!optional || !(e instanceof LayoutError)) throw e;
    process.stderr.write(`tesserae: no token layout: ${e.message}\n`);
    return null;
  }
}
