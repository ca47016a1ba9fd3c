import type { ResampleFilter } from "../../core/preprocess.ts";
import type { RgbImage } from "./image.ts";

/**
 * Pillow's Image.resize for 8-bit RGB, reproduced exactly (libImaging/Resample.c): separable
 * convolution with support widened by the scale when downsampling (antialiasing), coefficients in
 * 22-bit fixed point, horizontal pass first with a uint8 intermediate, then the vertical pass.
 */
const PRECISION_BITS = 32 - 8 - 2;

interface Filter {
  support: number;
  fn: (x: number) => number;
}

const FILTERS: Record<Exclude<ResampleFilter, "nearest">, Filter> = {
  bilinear: {
    support: 1,
    fn: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  // Pillow's truncated sinc: sinc(x) sinc(x / 3) on [-3, 3).
  lanczos: {
    support: 3,
    fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

interface Coeffs {
  bounds: Int32Array;
  kk: Int32Array;
  ksize: number;
}

function precompute(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? k[x] / ww : x < xmax ? k[x] : 0;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

function clip8(v: number): number {
  const s = Math.floor(v / (1 << PRECISION_BITS));
  return s < 0 ? 0 : Math.min(s, 255);
}

function horizontal(img: RgbImage, outW: number, c: Coeffs): RgbImage {
  const out = new Uint8Array(outW * img.height * 3);
  for (let y = 0; y < img.height; y++) {
    for (let xx = 0; xx < outW; xx++) {
      const xmin = c.bounds[xx * 2];
      const xmax = c.bounds[xx * 2 + 1];
      for (let ch = 0; ch < 3; ch++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let x = 0; x < xmax; x++) ss += img.data[(y * img.width + x + xmin) * 3 + ch] * c.kk[xx * c.ksize + x];
        out[(y * outW + xx) * 3 + ch] = clip8(ss);
      }
    }
  }
  return { width: outW, height: img.height, data: out };
}

function vertical(img: RgbImage, outH: number, c: Coeffs): RgbImage {
  const out = new Uint8Array(img.width * outH * 3);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = c.bounds[yy * 2];
    const ymax = c.bounds[yy * 2 + 1];
    for (let x = 0; x < img.width; x++) {
      for (let ch = 0; ch < 3; ch++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < ymax; y++) ss += img.data[((y + ymin) * img.width + x) * 3 + ch] * c.kk[yy * c.ksize + y];
        out[(yy * img.width + x) * 3 + ch] = clip8(ss);
      }
    }
  }
  return { width: img.width, height: outH, data: out };
}

function nearest(img: RgbImage, w: number, h: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(Math.floor((y + 0.5) * (img.height / h)), img.height - 1);
    for (let x = 0; x < w; x++) {
      const sx = Math.min(Math.floor((x + 0.5) * (img.width / w)), img.width - 1);
      for (let ch = 0; ch < 3; ch++) out[(y * w + x) * 3 + ch] = img.data[(sy * img.width + sx) * 3 + ch];
    }
  }
  return { width: w, height: h, data: out };
}

export function resize(img: RgbImage, width: number, height: number, filter: ResampleFilter): RgbImage {
  if (width === img.width && height === img.height) return img;
  if (filter === "nearest") return nearest(img, width, height);
  const f = FILTERS[filter];
  let cur = img;
  if (width !== img.width) cur = horizontal(cur, width, precompute(img.width, width, f));
  if (height !== img.height) cur = vertical(cur, height, precompute(img.height, height, f));
  return cur;
}
