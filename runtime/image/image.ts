import { TesseraeError } from "../../core/errors.ts";
/** 8-bit RGB pixels, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image that cannot be read or decoded; the message names the file. */
export class ImageError extends TesseraeError {}
