import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileFile } from "../../compiler/frontend.ts";
import type { PreprocessStep } from "../../core/preprocess.ts";
import { ImageError, readImage, type RgbImage } from "../../runtime/image/decode.ts";
import { resize } from "../../runtime/image/resample.ts";
import { preprocessImage, shortestEdgeSize } from "../../runtime/preprocess.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { reliable } from "../helpers/reliability.ts";

const reference = SafetensorsFile.open("test/fixtures/reference/preprocess.safetensors");
const clip = compileFile("graphs/clip.tsr");
const clip336 = compileFile("graphs/clip.tsr", { preset: "l14_336" });
const vit = compileFile("graphs/vit.tsr");

/** The synthetic image of the spec (§7.6): R = floor(255x/639), G = floor(255y/479), B = floor(255(x+y)/1118). */
function specImage(): RgbImage {
  const width = 640;
  const height = 480;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.floor((255 * x) / 639);
      data[i + 1] = Math.floor((255 * y) / 479);
      data[i + 2] = Math.floor((255 * (x + y)) / 1118);
    }
  }
  return { width, height, data };
}

const exifReference = SafetensorsFile.open("test/fixtures/reference/exif.safetensors");
const deepReference = SafetensorsFile.open("test/fixtures/reference/deep.safetensors");

describe("preprocessing matches the Hugging Face processors (PIL backend)", () => {
  it.each([
    ["odd-rgba.png", "odd_rgba"],
    ["tall-gray.png", "tall_gray"],
    ["demo.png", "demo"],
  ])("%s through CLIP (shortest edge 224, bicubic, crop) and ViT (224x224 bilinear)", async (file, key) => {
    const img = await readImage(`test/fixtures/images/${file}`);
    // Same arithmetic as PIL's fixed-point resampler and HF's float32 normalisation: bit-exact.
    expect(maxAbsDiff(preprocessImage(clip.preprocess, img, file).tensor, reference.read(`clip224_${key}`))).toBeLessThan(1e-6);
    expect(maxAbsDiff(preprocessImage(vit.preprocess, img, file).tensor, reference.read(`vit224_${key}`))).toBeLessThan(1e-6);
    const kind = {
      "odd-rgba.png": ["RGBA PNG, 61x47", "alpha dropped"],
      "tall-gray.png": ["grayscale PNG, 45x71", "gray replicated to RGB"],
    }[file];
    if (kind)
      reliable({
        area: "images",
        case: kind[0],
        tried: 1,
        outcome: `${kind[1]} as PIL's convert("RGB"); CLIP and ViT preprocessing bit-exact with the HF processors`,
      });
  });

  it("CLIP-336 on the demo image", async () => {
    const img = await readImage("test/fixtures/images/demo.png");
    expect(maxAbsDiff(preprocessImage(clip336.preprocess, img, "demo").tensor, reference.read("clip336_demo"))).toBeLessThan(1e-6);
  });

  it("decodes JPEG exactly as PIL (libjpeg) does", async () => {
    const img = await readImage("test/fixtures/images/small.jpg");
    const want = reference.read("jpeg_decoded_small");
    expect([img.height, img.width, 3]).toEqual(want.shape);
    let worst = 0;
    for (let i = 0; i < img.data.length; i++) worst = Math.max(worst, Math.abs(img.data[i] - want.data[i]));
    expect(worst).toBe(0);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    "turns a JPEG with EXIF orientation %i upright as transformers' load_image (ImageOps.exif_transpose) does",
    async (o) => {
      const img = await readImage(`test/fixtures/images/exif-${o}.jpg`);
      const want = exifReference.read(`exif_${o}`);
      expect([img.height, img.width, 3]).toEqual(want.shape);
      let worst = 0;
      for (let i = 0; i < img.data.length; i++) worst = Math.max(worst, Math.abs(img.data[i] - want.data[i]));
      expect(worst).toBe(0);
      reliable({
        area: "images",
        case: `JPEG with EXIF orientation ${o}`,
        tried: 1,
        outcome: "turned upright, bit-identical to PIL's ImageOps.exif_transpose",
      });
    },
  );

  it.each(["gray16", "rgb16", "gray-alpha16"])('decodes the 16-bit PNG %s as PIL\'s convert("RGB") does', async (name) => {
    const img = await readImage(`test/fixtures/images/${name}.png`);
    const want = deepReference.read(name.replace("-", "_"));
    expect([img.height, img.width, 3]).toEqual(want.shape);
    expect(Array.from(img.data)).toEqual(Array.from(want.data));
    reliable({ area: "images", case: `16-bit PNG (${name})`, tried: 1, outcome: 'decoded bit-identical to PIL\'s convert("RGB")' });
  });

  it.each([
    [640, 480, 336, [448, 336]],
    [640, 480, 224, [298, 224]],
    [500, 333, 224, [336, 224]],
    [333, 500, 224, [224, 336]],
    [1024, 768, 336, [448, 336]],
    [300, 200, 224, [336, 224]],
  ])("shortest-edge geometry of the spec: %ix%i to %i", (w, h, size, expected) => {
    expect(shortestEdgeSize(w, h, size)).toEqual(expected);
  });

  it("reproduces the spec's synthetic-image vectors (§7.6)", () => {
    const img = specImage();
    const at = (t: { shape: number[]; data: Float32Array }, row: number, col: number): number[] =>
      [0, 1, 2].map((c) => t.data[(c * t.shape[1] + row) * t.shape[2] + col]);
    const c336 = preprocessImage(clip336.preprocess, img, "spec").tensor;
    expect(c336.shape).toEqual([3, 336, 336]);
    const close = (got: number[], want: number[]): void => got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    close(at(c336, 0, 0), [-1.33971, -1.7521, -1.22426]);
    close(at(c336, 10, 300), [1.17122, -1.64704, 0.21197]);
    close(at(c336, 200, 50), [-0.91636, 0.52908, -0.07243]);
    close(at(c336, 335, 0), [-1.33971, 2.07488, 0.32573]);
    const c224 = preprocessImage(clip.preprocess, img, "spec").tensor;
    close(at(c224, 10, 200), [1.17122, -1.58701, 0.24041]);
    close(at(c224, 223, 223), [1.46319, 2.05988, 1.87572]);
    const v224 = preprocessImage(vit.preprocess, img, "spec").tensor;
    close(at(v224, 0, 0), [-1, -1, -1]);
    close(at(v224, 10, 200), [0.78824, -0.91373, 0.05882]);
    close(at(v224, 200, 50), [-0.55294, 0.78824, 0.01961]);
    close(at(v224, 223, 223), [0.99216, 0.99216, 0.99216]);
    const qwenVl = compileFile("graphs/qwen-vl.tsr");
    const q448 = preprocessImage(qwenVl.preprocess, img, "spec").tensor;
    close(at(q448, 0, 0), [-1.79226, -1.7521, -1.48022]);
    close(at(q448, 10, 300), [0.70407, -1.67706, -0.05821]);
    close(at(q448, 200, 50), [-1.38351, -0.05622, -0.55592]);
    close(at(q448, 447, 447), [1.93034, 2.07488, 2.1459]);
    // Intermediate check of the spec: PIL bicubic 640x480 -> 448x336.
    const r = resize(img, 448, 336, "bicubic");
    expect(Array.from(r.data.subarray(56 * 3, 56 * 3 + 3))).toEqual([31, 0, 18]);
    expect(Array.from(r.data.subarray((10 * 448 + 356) * 3, (10 * 448 + 356) * 3 + 3))).toEqual([203, 7, 119]);
  });

  it("normalises with the exact CLIP constants (§7.4)", () => {
    for (const [v, want] of [
      [0, [-1.792262534, -1.752097128, -1.480219769]],
      [128, [0.076336074, 0.168897239, 0.339948643]],
      [255, [1.930336254, 2.074883838, 2.145896989]],
    ] as const) {
      const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([v, v, v]) };
      const t = preprocessImage(
        clip.preprocess.filter((s) => s.op === "rescale" || s.op === "normalize"),
        img,
        "px",
      ).tensor;
      Array.from(t.data).forEach((x, i) => expect(x).toBeCloseTo(want[i], 6));
    }
  });
});

describe("preprocess branches", () => {
  const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([0, 51, 102, 153, 204, 255]) };

  it("make a second tensor from the image at the branch; the main line goes on from the same point", () => {
    const done = preprocessImage(
      [
        { op: "branch", input: "high", steps: [{ op: "rescale", factor: 1 / 255 }] },
        { op: "resize", width: 1, height: 1, filter: "nearest" },
        { op: "rescale", factor: 1 },
      ],
      img,
      "px",
    );
    expect(done.branches?.high.shape).toEqual([3, 1, 2]);
    expect(Array.from(done.branches?.high.data ?? [])).toEqual([0, 153, 51, 204, 102, 255].map((v) => Math.fround(v / 255)));
    expect(done.tensor.shape).toEqual([3, 1, 1]);
  });

  it("come before the image becomes values", () => {
    const steps: PreprocessStep[] = [
      { op: "rescale", factor: 1 },
      { op: "branch", input: "high", steps: [] },
    ];
    expect(() => preprocessImage(steps, img, "px")).toThrow("preprocess: branch high must come before rescale/normalize");
  });
});

describe("bad images", () => {
  it.each([
    ["not-an-image.png", "image test/fixtures/images/not-an-image.png: not a PNG or JPEG file"],
    ["truncated.png", "image test/fixtures/images/truncated.png: corrupt or unsupported PNG"],
    ["missing.png", "image test/fixtures/images/missing.png: cannot read (no such file)"],
    ["bomb.png", "image test/fixtures/images/bomb.png: declares 20000x20000 pixels, more than the limit of 178956970"],
    ["cmyk.jpg", "image test/fixtures/images/cmyk.jpg: a CMYK JPEG, which Tesserae does not decode (convert it to RGB first)"],
  ])("%s gives a clear error naming the file", async (file, message) => {
    await expect(readImage(`test/fixtures/images/${file}`)).rejects.toThrow(ImageError);
    await expect(readImage(`test/fixtures/images/${file}`)).rejects.toThrow(message);
    reliable({ area: "images", case: file, tried: 1, outcome: `one error: "${message}"` });
  });
});

describe("zero-sized images", () => {
  it("a PNG declaring 0 columns gives a clear error naming the file", async () => {
    const bytes = readFileSync("test/fixtures/images/odd-rgba.png");
    bytes.writeUInt32BE(0, 16);
    const path = join(mkdtempSync(join(tmpdir(), "tesserae-img-")), "zero-width.png");
    writeFileSync(path, bytes);
    await expect(readImage(path)).rejects.toThrow(`image ${path}: empty image (0x47)`);
    reliable({ area: "images", case: "a PNG declaring zero width", tried: 1, outcome: "one error naming the file, before decoding" });
  });
});

describe("bad JPEG", () => {
  it("names the file", async () => {
    await expect(readImage("test/fixtures/images/corrupt.jpg")).rejects.toThrow(
      "image test/fixtures/images/corrupt.jpg: corrupt or unsupported JPEG",
    );
    reliable({ area: "images", case: "corrupt.jpg (damaged entropy data)", tried: 1, outcome: "one error naming the file" });
  });
});
