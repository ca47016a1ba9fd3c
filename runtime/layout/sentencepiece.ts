/**
 * A SentencePiece model file (spiece.model, a protobuf ModelProto) read far enough to tokenize the way
 * transformers' slow SiglipTokenizer and T5Tokenizer do, as a tokenizer.json the JS tokenizer library
 * loads: Hub checkpoints of SigLIP ship only spiece.model.
 */

interface Piece {
  piece: string;
  score: number;
  type: number;
}

// sentencepiece_model.proto: SentencePiece.Type
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;

class ProtoReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  get done(): boolean {
    return this.at >= this.bytes.length;
  }
  varint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (this.at >= this.bytes.length) throw new Error("truncated varint");
      const b = this.bytes[this.at++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  }
  /** The next field: its number and its raw value (a number, or the bytes of a length-delimited field). */
  field(): { no: number; value: number | Uint8Array } {
    const key = this.varint();
    const [no, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) return { no, value: this.varint() };
    if (wire === 1) return { no, value: this.skip(8) };
    if (wire === 5) {
      const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 4);
      this.at += 4;
      return { no, value: view.getFloat32(0, true) };
    }
    if (wire === 2) return { no, value: this.skip(this.varint()) };
    throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  private skip(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new Error("truncated field");
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

const text = (b: number | Uint8Array): string => (typeof b === "number" ? "" : new TextDecoder().decode(b));

function readModel(bytes: Uint8Array): { pieces: Piece[]; addDummyPrefix: boolean; charsmap: boolean } {
  const pieces: Piece[] = [];
  let addDummyPrefix = true;
  let charsmap = false;
  const model = new ProtoReader(bytes);
  while (!model.done) {
    const { no, value } = model.field();
    if (no === 1 && typeof value !== "number") {
      const p: Piece = { piece: "", score: 0, type: 1 };
      const r = new ProtoReader(value);
      while (!r.done) {
        const f = r.field();
        if (f.no === 1) p.piece = text(f.value);
        else if (f.no === 2 && typeof f.value === "number") p.score = f.value;
        else if (f.no === 3 && typeof f.value === "number") p.type = f.value;
      }
      pieces.push(p);
    } else if (no === 3 && typeof value !== "number") {
      const r = new ProtoReader(value);
      while (!r.done) {
        const f = r.field();
        if (f.no === 2 && typeof f.value !== "number") charsmap = f.value.length > 0;
        else if (f.no === 3 && typeof f.value === "number") addDummyPrefix = f.value !== 0;
      }
    }
  }
  return { pieces, addDummyPrefix, charsmap };
}

const PUNCTUATION = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]";

/** tokenizer.json content for a SiglipTokenizer or T5Tokenizer checkpoint's spiece.model; null for other classes. */
export function sentencePieceTokenizer(bytes: Uint8Array, tokenizerClass: string, eos = "</s>"): object | null {
  if (tokenizerClass !== "SiglipTokenizer" && tokenizerClass !== "T5Tokenizer") return null;
  const { pieces, addDummyPrefix, charsmap } = readModel(bytes);
  const unk = pieces.findIndex((p) => p.type === UNKNOWN);
  const eosId = pieces.findIndex((p) => p.piece === eos);
  if (unk < 0 || eosId < 0) throw new Error(`the model has no ${unk < 0 ? "unknown piece" : `'${eos}' piece`}`);
  // SiglipTokenizer canonicalizes first (punctuation removed, whitespace collapsed) and lowercases.
  const canonical =
    tokenizerClass === "SiglipTokenizer"
      ? [
          { type: "Replace", pattern: { Regex: PUNCTUATION }, content: "" },
          { type: "Lowercase" },
          { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
          { type: "Strip", strip_left: true, strip_right: true },
        ]
      : [];
  const metaspace = { type: "Metaspace", replacement: "\u2581", prepend_scheme: addDummyPrefix ? "always" : "never", split: true };
  return {
    version: "1.0",
    added_tokens: pieces.flatMap((p, id) =>
      [UNKNOWN, CONTROL, USER_DEFINED].includes(p.type)
        ? [{ id, content: p.piece, single_word: false, lstrip: false, rstrip: false, normalized: false, special: p.type !== USER_DEFINED }]
        : [],
    ),
    normalizer: {
      type: "Sequence",
      normalizers: [...canonical, ...(charsmap ? [{ type: "Precompiled", precompiled_charsmap: null }] : [])],
    },
    pre_tokenizer: metaspace,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
      ],
      special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
    },
    decoder: metaspace,
    model: { type: "Unigram", unk_id: unk, byte_fallback: false, vocab: pieces.map((p) => [p.piece, p.score]) },
  };
}
