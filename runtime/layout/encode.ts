// Text to token ids with a tokenizer already loaded: no file access, so it runs in a browser too.
import { TesseraeError } from "../../core/errors.ts";

/** A checkpoint's own tokenizer (`tokenizer.json`, with `tokenizer_config.json` when present). */
export interface TextTokenizer {
  /** Where it was read from, for messages. */
  source: string;
  /** Ids of `text` as the HF tokenizer gives them by default (added tokens matched, BOS etc. added unless `specialTokens` is false). */
  encode(text: string, options?: { specialTokens?: boolean }): number[];
  idOf(token: string): number | undefined;
  decode(ids: readonly number[]): string;
  /** The padding token's id (tokenizer_config.json's pad_token), if it names one. */
  padId: number | undefined;
}

/** A tokenizer file that cannot be read or used. */
export class TokenizerError extends TesseraeError {}

/**
 * Texts as a text tower takes them: each encoded as the tokenizer does by default, cut to `length`
 * keeping its last (end) token, and padded to `length` with the pad token, like a Hugging Face processor
 * with padding="max_length" and truncation.
 */
export function encodeTexts(tokenizer: TextTokenizer, texts: readonly string[], length: number): number[][] {
  return texts.map((text) => {
    const ids = tokenizer.encode(text);
    const cut = ids.length > length ? [...ids.slice(0, length - 1), ids[ids.length - 1]] : ids;
    const pad = tokenizer.padId ?? cut[cut.length - 1];
    return [...cut, ...Array<number>(length - cut.length).fill(pad)];
  });
}
