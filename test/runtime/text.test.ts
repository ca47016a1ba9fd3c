import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { textPoolRows } from "../../runtime/inputs.ts";
import { encodeTexts, type TextTokenizer } from "../../runtime/layout/encode.ts";
import { loadTokenizer } from "../../runtime/layout/tokenizer.ts";

describe("text inputs of contrastive graphs", () => {
  it("pooling rows: the largest id with the legacy eos id 2, else the first eos; flat rows t·L + position", () => {
    const texts = [
      [9, 4, 99, 99],
      [9, 99, 5, 3],
    ];
    expect(Array.from(textPoolRows(texts, 2).data)).toEqual([2, 5]);
    expect(Array.from(textPoolRows(texts, 3).data)).toEqual([0, 7]);
    expect(Array.from(textPoolRows(texts, 5).data)).toEqual([0, 6]);
  });

  it("texts cut to the length keeping their end token, padded with the tokenizer's pad token", () => {
    const t = loadTokenizer("test/fixtures/clip-model") as TextTokenizer;
    const [bos, eos] = [t.idOf("<|startoftext|>"), t.idOf("<|endoftext|>")];
    const [short, long] = encodeTexts(t, ["a cat", "a photo of a cat a photo of a cat"], 6);
    expect(short).toEqual([bos, t.idOf("a</w>"), t.idOf("cat</w>"), eos, eos, eos]);
    expect(long).toHaveLength(6);
    expect([long[0], long[5]]).toEqual([bos, eos]);
    expect(t.padId).toBe(eos);
  });
});

describe("SentencePiece models (Hub SigLIP checkpoints ship spiece.model, not tokenizer.json)", () => {
  it("spiece.model gives the same ids as the SiglipTokenizer rules; an unsupported class is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "tesserae-spiece-"));
    for (const f of ["spiece.model", "tokenizer_config.json"]) copyFileSync(`test/fixtures/siglip-model/${f}`, join(dir, f));
    const ref = SafetensorsFile.open("test/fixtures/reference/siglip-model.safetensors");
    const texts = JSON.parse(ref.metadata.texts) as string[];
    const { shape, values } = ref.readIntegers("input_ids");
    const ids = encodeTexts(loadTokenizer(dir) as TextTokenizer, texts, shape[1]);
    expect(ids.flat()).toEqual(values);
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "LlamaTokenizer" }));
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer_class 'LlamaTokenizer' is not supported/);
  });
});
