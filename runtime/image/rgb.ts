import { ImageError, type RgbImage } from "./image.ts";

/** Decoded pixels as callers hold them: RGB (3 bytes a pixel) or RGBA such as a canvas's `ImageData`. */
export interface ImageLike {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** RGB pixels of a decoded image; RGBA loses its alpha as PIL's convert("RGB") does (not composited). */
export function toRgb(img: ImageLike, name: string): RgbImage {
  const { width, height, data } = img ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new ImageError(`image ${name}: width and height must be positive integers, got ${width}x${height}`);
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray))
    throw new ImageError(`image ${name}: pixel data must be a Uint8Array or Uint8ClampedArray`);
  const pixels = width * height;
  if (data.length === pixels * 3)
    return { width, height, data: data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length) };
  if (data.length !== pixels * 4)
    throw new ImageError(
      `image ${name}: ${data.length} bytes of pixels, but ${width}x${height} needs ${pixels * 3} (RGB) or ${pixels * 4} (RGBA)`,
    );
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    rgb[3 * p] = data[4 * p];
    rgb[3 * p + 1] = data[4 * p + 1];
    rgb[3 * p + 2] = data[4 * p + 2];
  }
  return { width, height, data: rgb };
}
