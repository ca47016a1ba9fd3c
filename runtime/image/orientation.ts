import type { RgbImage } from "./image.ts";

/**
 * The EXIF orientation (1-8) of a JPEG, from the TIFF structure in its APP1 "Exif" segment; 1 when it
 * has none or the segment is malformed (a broken tag is no reason to refuse an image PIL would open).
 */
export function jpegOrientation(b: Uint8Array): number {
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    const len = (b[i + 2] << 8) | b[i + 3];
    if (marker === 0xda || len < 2) break;
    const body = i + 4;
    if (marker === 0xe1 && len >= 16 && String.fromCharCode(...b.subarray(body, body + 4)) === "Exif") {
      return tiffOrientation(b.subarray(body + 6, Math.min(b.length, i + 2 + len)));
    }
    i += 2 + len;
  }
  return 1;
}

function tiffOrientation(t: Uint8Array): number {
  if (t.length < 8) return 1;
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return 1;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const ifd = v.getUint32(4, little);
  if (ifd + 2 > t.length) return 1;
  const count = v.getUint16(ifd, little);
  for (let e = 0; e < count; e++) {
    const at = ifd + 2 + 12 * e;
    if (at + 12 > t.length) return 1;
    if (v.getUint16(at, little) === 0x0112) {
      const value = v.getUint16(at + 8, little);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/**
 * The image as PIL's ImageOps.exif_transpose turns it (which transformers' load_image applies): for
 * each output pixel (x, y), the source pixel it comes from.
 */
export function applyOrientation(img: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: W, height: H } = img;
  const swaps = orientation >= 5;
  const [w, h] = swaps ? [H, W] : [W, H];
  const source: Record<number, (x: number, y: number) => [number, number]> = {
    2: (x, y) => [W - 1 - x, y],
    3: (x, y) => [W - 1 - x, H - 1 - y],
    4: (x, y) => [x, H - 1 - y],
    5: (x, y) => [y, x],
    6: (x, y) => [y, H - 1 - x],
    7: (x, y) => [W - 1 - y, H - 1 - x],
    8: (x, y) => [W - 1 - y, x],
  };
  const from = source[orientation];
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sx, sy] = from(x, y);
      const s = 3 * (sy * W + sx);
      const d = 3 * (y * w + x);
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  }
  return { width: w, height: h, data };
}
