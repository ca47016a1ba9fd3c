import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

/** A checkpoint's own tokenizer (`tokenizer.json`, with `tokenizer_config.json` when present). */
export interface TextTokenizer {
  /** Where it was read from, for messages. */
  source: string;
  /** Ids of `text` as the HF tokenizer gives them by default (added tokens matched, BOS etc. added). */
  encode(text: string): number[];
  idOf(token: string): number | undefined;
  decode(ids: readonly number[]): string;
  /** The padding token's id (tokenizer_config.json's pad_token), if it names one. */
  padId: number | undefined;
}

export class TokenizerError extends Error {}

/** `path` is a checkpoint folder or a tokenizer.json; null when a folder has no tokenizer.json. */
export function loadTokenizer(path: string): TextTokenizer | null {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, "tokenizer.json") : path;
  if (!existsSync(file)) return null;
  const readJson = (p: string): object => {
    try {
      return JSON.parse(readFileSync(p, "utf8")) as object;
    } catch (e) {
      throw new TokenizerError(`${p}: not a readable JSON file (${(e as Error).message})`);
    }
  };
  const configFile = join(dirname(file), "tokenizer_config.json");
  const config = existsSync(configFile) ? (readJson(configFile) as { pad_token?: string | { content?: string } }) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(readJson(file), config);
  } catch (e) {
    if (e instanceof TokenizerError) throw e;
    throw new TokenizerError(`${file}: not a tokenizer this library can load (${(e as Error).message})`);
  }
  return {
    source: file,
    encode: (text) => tokenizer.encode(text).ids,
    idOf: (token) => tokenizer.token_to_id(token),
    decode: (ids) => tokenizer.decode([...ids]),
    padId: ((pad) => (pad === undefined ? undefined : tokenizer.token_to_id(pad)))(typeof config.pad_token === "object" ? config.pad_token?.content : config.pad_token),
  };
}

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
