import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import decodeJpeg, { init as initJpeg } from "@jsquash/jpeg/decode.js";
import { PNG } from "pngjs";
import { applyOrientation, jpegOrientation } from "./orientation.ts";

export { ImageError, type RgbImage } from "./image.ts";
import { ImageError, type RgbImage } from "./image.ts";

const MAX_PIXELS = 178_956_970; // PIL's decompression-bomb limit

let jpegReady: Promise<void> | undefined;

/**
 * JPEG goes through mozjpeg (libjpeg-turbo's decoder: islow IDCT, fancy upsampling) compiled to
 * WebAssembly, so decoded pixels are bit-identical to what PIL gives the Hugging Face processors.
 */
function loadJpegDecoder(): Promise<void> {
  jpegReady ??= (async () => {
    const g = globalThis as { ImageData?: unknown };
    // The decoder returns an ImageData, which Node lacks.
    g.ImageData ??= class ImageData {
      constructor(
        readonly data: Uint8ClampedArray,
        readonly width: number,
        readonly height: number,
      ) {}
    };
    const wasmPath = createRequire(import.meta.url).resolve("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm");
    // libjpeg's own warnings ("Premature end of JPEG file") would reach stderr; a corrupt file is reported as an ImageError instead.
    const quiet = { print: () => {}, printErr: () => {} };
    // The package's declarations lag its code, which takes the compiled module and the options both.
    const initWith = initJpeg as unknown as (module: WebAssembly.Module, options: object) => Promise<void>;
    await initWith(await WebAssembly.compile(readFileSync(wasmPath)), quiet);
  })();
  return jpegReady;
}

/**
 * Decodes PNG or JPEG (by content, not by extension), drops alpha as PIL's convert("RGB") does, and
 * turns a JPEG upright by its EXIF orientation as transformers' load_image does.
 */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbImage> {
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new ImageError(`image ${name}: not a PNG or JPEG file`);
  // Decompression-bomb protection: the declared size is checked before any pixel is decoded.
  const declared = isPng ? pngSize(bytes) : jpegSize(bytes);
  if (declared && declared[0] * declared[1] > MAX_PIXELS) {
    throw new ImageError(
      `image ${name}: declares ${declared[0]}x${declared[1]} pixels, more than the limit of ${MAX_PIXELS} (PIL's decompression-bomb limit)`,
    );
  }
  if (declared && (declared[0] === 0 || declared[1] === 0))
    throw new ImageError(`image ${name}: empty image (${declared[0]}x${declared[1]})`);
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
      return fromRgba(
        png.width,
        png.height,
        png.depth === 16 ? eightBit(png.data as unknown as Uint16Array, png.colorType) : png.data,
        name,
      );
    }
    if (jpegComponents(bytes) === 4)
      throw new ImageError(`image ${name}: a CMYK JPEG, which Tesserae does not decode (convert it to RGB first)`);
    await loadJpegDecoder();
    const copy = new Uint8Array(bytes).buffer;
    const img = await decodeJpeg(copy);
    const rgb = fromRgba(img.width, img.height, new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength), name);
    return applyOrientation(rgb, jpegOrientation(bytes));
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const why = e instanceof Error ? e.message : typeof e === "string" ? e : "the decoder could not read it";
    throw new ImageError(`image ${name}: corrupt or unsupported ${isPng ? "PNG" : "JPEG"} (${why})`);
  }
}

/**
 * 16-bit samples as PIL's convert("RGB") sees them: the high byte, except plain 16-bit grayscale, which
 * PIL opens as 32-bit integers (mode I) and clips to 255 on the way to RGB.
 */
function eightBit(samples: Uint16Array, colorType: number): Uint8Array {
  const out = new Uint8Array(samples.length);
  const clipGray = colorType === 0;
  for (let i = 0; i < samples.length; i++) {
    const isAlpha = (i & 3) === 3;
    out[i] = clipGray && !isAlpha ? Math.min(samples[i], 255) : samples[i] >> 8;
  }
  return out;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(b: Uint8Array): [number, number] | null {
  if (b.length < 24) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return [v.getUint32(16), v.getUint32(20)];
}

/** Width and height from a JPEG's first start-of-frame marker. */
function jpegSize(b: Uint8Array): [number, number] | null {
  const at = startOfFrame(b);
  return at === null ? null : [(b[at + 7] << 8) | b[at + 8], (b[at + 5] << 8) | b[at + 6]];
}

/** Colour components (1 gray, 3 YCbCr, 4 CMYK) from a JPEG's start-of-frame marker. */
function jpegComponents(b: Uint8Array): number | null {
  const at = startOfFrame(b);
  return at === null || at + 9 >= b.length ? null : b[at + 9];
}

function startOfFrame(b: Uint8Array): number | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    const len = (b[i + 2] << 8) | b[i + 3];
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return i;
    i += 2 + len;
  }
  return null;
}

function fromRgba(width: number, height: number, rgba: Uint8Array, name: string): RgbImage {
  if (width <= 0 || height <= 0) throw new ImageError(`image ${name}: empty image (${width}x${height})`);
  if (width * height > MAX_PIXELS) throw new ImageError(`image ${name}: ${width}x${height} is larger than ${MAX_PIXELS} pixels`);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    data[i * 3] = rgba[j];
    data[i * 3 + 1] = rgba[j + 1];
    data[i * 3 + 2] = rgba[j + 2];
  }
  return { width, height, data };
}

export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageError(
      `image ${path}: cannot read (${e instanceof Error && "code" in e && e.code === "ENOENT" ? "no such file" : String(e)})`,
    );
  }
  return decodeImage(bytes, path);
}
