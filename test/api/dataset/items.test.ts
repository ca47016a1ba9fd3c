import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { itemBytes, listCollection } from "../../../api/dataset/items.ts";
import { parseShard, inShard } from "../../../api/dataset/shard.ts";
import { tarMembers } from "../../../api/dataset/tar.ts";
import { generateCollection, type GeneratedCollection } from "../../helpers/collection.ts";

let root: string;
let gen: GeneratedCollection;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "tesserae-items-"));
  gen = generateCollection(join(root, "photos"), 12);
});

describe("listCollection", () => {
  it("a folder: every image file below it, recursively (links followed once), by its path inside the folder", () => {
    writeFileSync(join(root, "photos", "notes.txt"), "not an image");
    const { items: plain } = listCollection([join(root, "photos")]);
    expect(plain.map((i) => i.id).sort()).toEqual([...gen.readable, ...gen.corrupt].sort());
    // A WebP is listed (and then reported as not decodable); a link to a folder is walked, a link back up is not.
    const other = join(root, "other");
    mkdirSync(join(other, "deep"), { recursive: true });
    writeFileSync(join(other, "deep", "pic.WEBP"), "RIFF....WEBP");
    symlinkSync(join(root, "photos", "jpeg"), join(other, "linked"));
    symlinkSync(other, join(other, "deep", "loop"));
    const { items, columns } = listCollection([other]);
    expect(items.map((i) => i.id).sort()).toEqual(["deep/pic.WEBP", "linked/exif-6.jpg", "linked/small.jpg"]);
    expect(columns).toEqual([]);
    expect(items.every((i) => i.extra && Object.keys(i.extra).length === 0)).toBe(true);
  });

  it("a glob pattern: the files it matches, by the path as matched", () => {
    const pattern = `${join(root, "photos")}/b/**/*.png`;
    const { items } = listCollection([pattern]);
    expect(items.length).toBe(gen.readable.filter((id) => id.startsWith("b/")).length);
    expect(items.every((i) => i.id.startsWith(`${root}/photos/b/`))).toBe(true);
    expect(() => listCollection([`${root}/nothing-*.png`])).toThrow(/matches no file/);
  });

  it("CSV and JSONL manifests: a path column (relative to the manifest), an optional id, other columns kept with their types", () => {
    writeFileSync(join(root, "photos", "list.csv"), "path,label,score\na/img-0000.png,cat,0.5\nb/c/img-0001.png,dog,2\n");
    writeFileSync(
      join(root, "photos", "list.jsonl"),
      `${JSON.stringify({ id: "x", image: "a/img-0003.png", label: "bird", count: 3, ok: true })}\n\n${JSON.stringify({ id: "y", image: "a/img-0006.png", count: null, ok: false, meta: { a: 1 } })}\n`,
    );
    const csv = listCollection([join(root, "photos", "list.csv")]);
    expect(csv.items.map((i) => [i.id, i.extra])).toEqual([
      ["a/img-0000.png", { label: "cat", score: "0.5" }],
      ["b/c/img-0001.png", { label: "dog", score: "2" }],
    ]);
    expect(csv.columns).toEqual([
      { name: "label", type: "string" },
      { name: "score", type: "string" },
    ]);
    expect(csv.items[0].at.file).toBe(join(root, "photos", "a/img-0000.png"));
    const jsonl = listCollection([join(root, "photos", "list.jsonl")]);
    expect(jsonl.items.map((i) => i.id)).toEqual(["x", "y"]);
    expect(jsonl.columns).toEqual([
      { name: "label", type: "string" },
      { name: "count", type: "number" },
      { name: "ok", type: "boolean" },
      { name: "meta", type: "string" },
    ]);
    expect(jsonl.items[1].extra).toEqual({ count: null, ok: false, meta: '{"a":1}' });
  });

  it("bad manifests and inputs: the file and line, the input named", () => {
    writeFileSync(join(root, "bad.jsonl"), `${JSON.stringify({ path: "a.png" })}\n{not json\n`);
    expect(() => listCollection([join(root, "bad.jsonl")])).toThrow(`${join(root, "bad.jsonl")}:2: not a JSON line`);
    writeFileSync(join(root, "nopath.csv"), "name,label\na,b\n");
    expect(() => listCollection([join(root, "nopath.csv")])).toThrow(`${join(root, "nopath.csv")}:2: no image path`);
    writeFileSync(join(root, "reserved.csv"), "path,embedding\na.png,1\n");
    expect(() => listCollection([join(root, "reserved.csv")])).toThrow(/column 'embedding' is reserved/);
    expect(() => listCollection([join(root, "missing")])).toThrow(`input ${join(root, "missing")}: no such file or folder`);
    expect(() => listCollection([join(root, "photos"), join(root, "photos")])).toThrow(/appears twice/);
    expect(() => listCollection([])).toThrow(/no inputs/);
  });

  it("WebDataset .tar shards: one sample per key, its image and its text members, read from their offsets", () => {
    const stage = join(root, "wds");
    mkdirSync(join(stage, "part"), { recursive: true });
    const long = `${"k".repeat(120)}`;
    for (const [key, label] of [
      ["s0001", "cat"],
      ["s0002", "dog"],
      [long, "long"],
    ]) {
      execFileSync("cp", [join(root, "photos", "a/img-0000.png"), join(stage, "part", `${key}.png`)]);
      writeFileSync(join(stage, "part", `${key}.cls`), `${label}\n`);
    }
    writeFileSync(join(stage, "part", "s0003.txt"), "a sample without an image");
    const shard = join(root, "shard-000.tar");
    execFileSync("tar", ["--format=gnu", "-cf", shard, "-C", stage, "part"]);
    expect(tarMembers(shard).map((m) => m.name)).toContain(`part/${long}.png`);
    const { items, columns } = listCollection([shard]);
    expect(items.map((i) => [i.id, i.extra])).toEqual(
      expect.arrayContaining([
        ["part/s0001", { cls: "cat" }],
        ["part/s0002", { cls: "dog" }],
        [`part/${long}`, { cls: "long" }],
      ]),
    );
    expect(items.length).toBe(3);
    expect(columns).toEqual([{ name: "cls", type: "string" }]);
    expect(
      Buffer.from(itemBytes(items[0])).equals(Buffer.from(itemBytes(listCollection([join(root, "photos", "a/img-0000.png")]).items[0]))),
    ).toBe(true);
    writeFileSync(join(root, "not.tar"), "x".repeat(1024));
    expect(() => listCollection([join(root, "not.tar")])).toThrow(/not a tar archive/);
  });
});

describe("shards", () => {
  it("I/N or a Kubernetes Indexed Job's variables; each id in exactly one shard", () => {
    expect(parseShard("1/3", {})).toEqual({ index: 1, count: 3 });
    expect(parseShard(undefined, { JOB_COMPLETION_INDEX: "2", JOB_COMPLETION_COUNT: "4" })).toEqual({ index: 2, count: 4 });
    expect(parseShard(undefined, {})).toBeNull();
    expect(() => parseShard("3/3", {})).toThrow(/0 to 2 of 3/);
    expect(() => parseShard("a/b", {})).toThrow(/give I\/N/);
    const ids = Array.from({ length: 500 }, (_, i) => `img-${i}.png`);
    const counts = [0, 1, 2].map((index) => ids.filter((id) => inShard(id, { index, count: 3 })).length);
    expect(counts.reduce((a, b) => a + b)).toBe(500);
    for (const c of counts) expect(c).toBeGreaterThan(120);
  });
});
