import type { RgbImage } from "../runtime/image/decode.ts";

/** A smooth synthetic RGB image: the pipelines' preprocessing runs on it as on a photo. */
export function syntheticImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 128 + 127 * Math.sin((x + y) / 17);
    }
  return { width, height, data };
}
