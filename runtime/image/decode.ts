import { readFileSync } from "node:fs";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

/** 8-bit RGB pixels, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image that cannot be read or decoded; the message names the file. */
export class ImageError extends Error {}

const MAX_PIXELS = 178_956_970; // PIL's decompression-bomb limit

/** Decodes PNG or JPEG (by content, not by extension) and drops alpha as PIL's convert("RGB") does. */
export function decodeImage(bytes: Uint8Array, name: string): RgbImage {
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new ImageError(`image ${name}: not a PNG or JPEG file`);
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return fromRgba(png.width, png.height, png.data, name);
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 2048 });
    return fromRgba(img.width, img.height, img.data, name);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`image ${name}: corrupt or unsupported ${isPng ? "PNG" : "JPEG"} (${e instanceof Error ? e.message : String(e)})`);
  }
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

export function readImage(path: string): RgbImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageError(`image ${path}: cannot read (${e instanceof Error && "code" in e && e.code === "ENOENT" ? "no such file" : String(e)})`);
  }
  return decodeImage(bytes, path);
}
