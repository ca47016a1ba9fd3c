import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileFile } from "../../compiler/frontend.ts";
import { Checkpoint } from "../../runtime/weights/checkpoint.ts";
import { WeightsError } from "../../core/errors.ts";
import { SafetensorsFile, writeSafetensors } from "../../runtime/weights/safetensors.ts";
import { reliable } from "../helpers/reliability.ts";

const dir = mkdtempSync(join(tmpdir(), "tesserae-weights-"));

function rawFile(name: string, header: unknown, data: Uint8Array, headerLenOverride?: number): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLenOverride ?? json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, data]));
  return path;
}

describe("safetensors reader", () => {
  it("round-trips f32 and reads f16 and bf16 as f32", () => {
    const p = join(dir, "rt.safetensors");
    writeSafetensors(p, new Map([["a", { shape: [2, 2], data: new Float32Array([1, -2.5, 3e-3, 65504]) }]]));
    expect(Array.from(SafetensorsFile.open(p).read("a").data)).toEqual(Array.from(new Float32Array([1, -2.5, 3e-3, 65504])));
    // 1.0, -2.0, 0.5, 65504 in f16; 1.0, -2.0, 0.5, 3.140625 in bf16
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff]);
    const bf16 = new Uint16Array([0x3f80, 0xc000, 0x3f00, 0x4049]);
    const data = Buffer.concat([Buffer.from(f16.buffer), Buffer.from(bf16.buffer)]);
    const f = SafetensorsFile.open(
      rawFile(
        "halves.safetensors",
        { h: { dtype: "F16", shape: [4], data_offsets: [0, 8] }, b: { dtype: "BF16", shape: [4], data_offsets: [8, 16] } },
        data,
      ),
    );
    expect(Array.from(f.read("h").data)).toEqual([1, -2, 0.5, 65504]);
    expect(Array.from(f.read("b").data)).toEqual([1, -2, 0.5, 3.140625]);
  });

  it.each([
    ["a header length past the end", () => rawFile("len.safetensors", {}, new Uint8Array(0), 999), "header length 999 does not fit"],
    ["a header that is not JSON", () => rawFile("json.safetensors", "{not json", new Uint8Array(0)), "header is not valid JSON"],
    [
      "offsets past the end",
      () => rawFile("off.safetensors", { w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
      "tensor 'w': data_offsets [0, 16] run past the end of the file",
    ],
    [
      "offsets that disagree with the shape",
      () => rawFile("shape.safetensors", { w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      "tensor 'w': data_offsets [0, 8] hold 8 bytes, but F32[3] needs 12",
    ],
    [
      "overlapping tensors",
      () =>
        rawFile(
          "overlap.safetensors",
          { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } },
          new Uint8Array(12),
        ),
      "tensors 'a' and 'b' overlap in the data section",
    ],
    [
      "an unknown dtype",
      () => rawFile("dtype.safetensors", { w: { dtype: "F8", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      `tensor 'w': unsupported dtype "F8"`,
    ],
    ["an empty header", () => rawFile("empty.safetensors", "", new Uint8Array(0)), "header is not valid JSON"],
  ])("rejects %s, naming file and tensor", (what, make, message) => {
    const path = make();
    expect(() => SafetensorsFile.open(path)).toThrow(WeightsError);
    expect(() => SafetensorsFile.open(path)).toThrow(message);
    expect(() => SafetensorsFile.open(path)).toThrow(path);
    reliable({ area: "checkpoints", case: `safetensors with ${what}`, tried: 1, outcome: `one error naming the file: "${message}"` });
  });

  it("refuses integer tensors as weights", () => {
    const f = SafetensorsFile.open(
      rawFile("int.safetensors", { ids: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    );
    expect(() => f.read("ids")).toThrow("tensor 'ids' has dtype I64; only F32, F16 and BF16 weights can be used");
    reliable({
      area: "checkpoints",
      case: "an integer tensor where a weight is expected",
      tried: 1,
      outcome: "one error naming the tensor and its dtype",
    });
  });
});

describe("Hugging Face checkpoints", () => {
  it("reads only the vision tensors of a full CLIPModel checkpoint", () => {
    const ck = Checkpoint.open("test/fixtures/clip");
    const p = compileFile("graphs/clip.tsr", { checkpointConfig: ck.config, hasWeight: (n) => ck.has(n) });
    const w = ck.loadFor(p.graph, p);
    expect(w.has("visual_projection.weight")).toBe(true);
    expect([...w.keys()].some((k) => k.startsWith("text_model"))).toBe(false);
    expect(ck.has("text_model.embeddings.token_embedding.weight")).toBe(true);
  });

  it("finds ViTForImageClassification tensors under 'vit.' and reads a sharded bf16/f16 index", () => {
    for (const dirName of ["vit-classifier", "vit-sharded"]) {
      const ck = Checkpoint.open(`test/fixtures/${dirName}`);
      const p = compileFile("graphs/vit.tsr", { checkpointConfig: ck.config, hasWeight: (n) => ck.has(n) });
      expect(ck.chooseNames(p, ["embeddings.cls_token"])("embeddings.cls_token")).toBe("vit.embeddings.cls_token");
      expect(ck.loadFor(p.graph, p).get("embeddings.cls_token")?.shape).toEqual([1, 1, 36]);
    }
  });

  it("names a missing tensor and a wrong shape", () => {
    const ck = Checkpoint.open("test/fixtures/clip-vision");
    const wrongSize = compileFile("graphs/clip.tsr", {
      checkpointConfig: ck.config,
      overrides: { mlp_width: "64" },
      hasWeight: (n) => ck.has(n),
    });
    expect(() => ck.loadFor(wrongSize.graph, wrongSize)).toThrow(
      "tensor 'vision_model.encoder.layers.0.mlp.fc1.weight' in test/fixtures/clip-vision/model.safetensors has shape [52, 40], but graph 'clip' expects [64, 40]",
    );
    const vit = compileFile("graphs/vit.tsr");
    expect(() => ck.loadFor(vit.graph, vit)).toThrow(
      /test\/fixtures\/clip-vision lacks tensors 'embeddings.patch_embeddings.projection.weight', .* and \d+ more that graph 'vit' needs/,
    );
    reliable({
      area: "checkpoints",
      case: "a tensor whose shape does not match the graph; tensors the graph needs missing",
      tried: 2,
      outcome: "one error naming tensor, file and both shapes; the first missing tensors and how many more",
    });
  });

  it("rejects a directory without weights", () => {
    expect(() => Checkpoint.open("test/fixtures/images")).toThrow("has neither model.safetensors nor model.safetensors.index.json");
    expect(() => Checkpoint.open("test/fixtures/nope")).toThrow("checkpoint test/fixtures/nope does not exist");
    reliable({
      area: "checkpoints",
      case: "a directory without weights; a directory that does not exist",
      tried: 2,
      outcome: "one error naming the directory",
    });
  });
});

describe("checkpoint hazards", () => {
  it("names a shard the index points to that does not exist", () => {
    const d = mkdtempSync(join(tmpdir(), "tesserae-shards-"));
    writeFileSync(
      join(d, "model.safetensors.index.json"),
      JSON.stringify({ weight_map: { "a.weight": "model-00001-of-00002.safetensors" } }),
    );
    const ck = Checkpoint.open(d);
    expect(() => ck.read("a.weight")).toThrow(
      `the index puts tensor 'a.weight' in ${join(d, "model-00001-of-00002.safetensors")}, which does not exist`,
    );
    reliable({
      area: "checkpoints",
      case: "a sharded index pointing at a missing shard",
      tried: 1,
      outcome: "one error naming the tensor and the missing file",
    });
  });

  it("warns of NaN and Inf in weights, naming the tensor", () => {
    const d = mkdtempSync(join(tmpdir(), "tesserae-nan-"));
    writeSafetensors(join(d, "model.safetensors"), new Map([["w", { shape: [2], data: new Float32Array([1, NaN]) }]]));
    const ck = Checkpoint.open(d);
    const g = compileFile("graphs/vit.tsr");
    const warnings: string[] = [];
    const graph = { ...g.graph, nodes: g.graph.nodes.filter((n) => n.op.kind !== "param") };
    graph.nodes.push({ id: graph.nodes.length, op: { kind: "param", name: "w" }, inputs: [], shape: [2], dtype: "f32", source: [] });
    ck.loadFor(graph, { prefixes: [""] }, (m) => warnings.push(m));
    expect(warnings).toEqual([
      `warning: tensor 'w' in ${join(d, "model.safetensors")} holds NaN (first at element 1); outputs will not be finite`,
    ]);
    reliable({
      area: "checkpoints",
      case: "NaN or Inf in a weight",
      tried: 1,
      outcome: "a warning naming tensor, file and first element; the run goes on",
    });
  });
});
