import { decodeNode } from "../runtime/node.ts";
import type { TextTokenizer } from "../runtime/layout/encode.ts";
import type { TokenLayout } from "../runtime/layout/types.ts";
import { loadTokenizer } from "../runtime/layout/tokenizer.ts";
import { layoutOf, prepareInputs, type InputOptions, type ModelInput } from "../runtime/model.ts";
import { UsageError } from "../core/errors.ts";
import type { Compiled } from "./compile.ts";

/** The tokenizer to use: the one given (a path or loaded), else the checkpoint's, else none. */
export function resolveTokenizer(given: string | TextTokenizer | undefined, checkpoint: string | null | undefined): TextTokenizer | null {
  if (typeof given === "object") return given;
  const tokenizer = loadTokenizer(given ?? checkpoint ?? "");
  if (!tokenizer && given !== undefined)
    throw new UsageError(`no tokenizer at ${given} (a tokenizer.json, or a folder with tokenizer.json or spiece.model)`);
  return tokenizer;
}

/**
 * The LLM token sequence for images and a prompt (`<image>` / `<video>` marking their places) without
 * a device or weights: preprocessing decides the token counts, the tokenizer the text ids.
 */
export async function layout(
  compiled: Compiled,
  images: ModelInput,
  prompt?: string,
  options: InputOptions & { tokenizer?: string | TextTokenizer } = {},
): Promise<TokenLayout> {
  const prepared = await prepareInputs(compiled.program, images, options, decodeNode);
  return layoutOf(compiled.program, prepared, prompt, resolveTokenizer(options.tokenizer, compiled.options.weights));
}
