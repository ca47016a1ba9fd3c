import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { sentencePieceTokenizer } from "./sentencepiece.ts";
import { TokenizerError, type TextTokenizer } from "./encode.ts";

/**
 * `path` is a checkpoint folder or a tokenizer.json; a folder without tokenizer.json may hold a
 * SentencePiece spiece.model instead (SigLIP, T5). Null when there is neither.
 */
export function loadTokenizer(path: string): TextTokenizer | null {
  const folder = existsSync(path) && statSync(path).isDirectory();
  const file = folder ? join(path, "tokenizer.json") : path;
  if (folder && !existsSync(file) && existsSync(join(path, "spiece.model"))) return fromSentencePiece(join(path, "spiece.model"));
  if (!existsSync(file)) return null;
  return wrap(file, readJson(file), tokenizerConfig(dirname(file)));
}

type TokenizerConfig = { pad_token?: string | { content?: string }; eos_token?: string | { content?: string }; tokenizer_class?: string };

function readJson(p: string): object {
  try {
    return JSON.parse(readFileSync(p, "utf8")) as object;
  } catch (e) {
    throw new TokenizerError(`${p}: not a readable JSON file (${(e as Error).message})`);
  }
}

function tokenizerConfig(folder: string): TokenizerConfig {
  const file = join(folder, "tokenizer_config.json");
  return existsSync(file) ? (readJson(file) as TokenizerConfig) : {};
}

const tokenText = (t: string | { content?: string } | undefined): string | undefined => (typeof t === "object" ? t?.content : t);

function fromSentencePiece(file: string): TextTokenizer {
  const config = tokenizerConfig(dirname(file));
  let json: object | null;
  try {
    json = sentencePieceTokenizer(new Uint8Array(readFileSync(file)), config.tokenizer_class ?? "", tokenText(config.eos_token) ?? "</s>");
  } catch (e) {
    throw new TokenizerError(`${file}: not a readable SentencePiece model (${(e as Error).message})`);
  }
  if (!json)
    throw new TokenizerError(
      `${file}: a SentencePiece model for tokenizer_class '${config.tokenizer_class ?? "(none)"}' is not supported (SiglipTokenizer and T5Tokenizer are); give a tokenizer.json instead`,
    );
  return wrap(file, json, config);
}

function wrap(file: string, json: object, config: TokenizerConfig): TextTokenizer {
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (e) {
    throw new TokenizerError(`${file}: not a tokenizer this library can load (${(e as Error).message})`);
  }
  return {
    source: file,
    encode: (text, options) => tokenizer.encode(text, { add_special_tokens: options?.specialTokens ?? true }).ids,
    idOf: (token) => tokenizer.token_to_id(token),
    decode: (ids) => tokenizer.decode([...ids]),
    padId: ((pad) => (pad === undefined ? undefined : tokenizer.token_to_id(pad)))(tokenText(config.pad_token)),
  };
}
