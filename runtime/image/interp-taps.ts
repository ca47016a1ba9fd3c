import type { HostTensor } from "../tensor.ts";

const f = Math.fround;

/**
 * transformers' get_vision_interpolation_indices_and_weights for bilinear, align_corners=True: for each
 * patch of each grid (t, h, w), in merge x merge block order, the 4 cells of a side x side position table
 * and their weights (border taps clamped), in float32 as torch computes them. `part` picks the flat
 * indices [patches · 4] or the weights [patches, 4].
 */
export function interpTaps(grids: readonly [number, number, number][], side: number, merge: number, part: "index" | "weight"): HostTensor {
  const index: number[] = [];
  const weight: number[] = [];
  const axis = (i: number, size: number): [number, number][] => {
    const src = f(f(i * (side - 1)) / Math.max(size - 1, 1));
    const lo = Math.floor(src);
    return [0, 1].map((o): [number, number] => [Math.min(Math.max(lo + o, 0), side - 1), Math.max(0, f(1 - Math.abs(f(f(src - lo) - o))))]);
  };
  for (const [t, h, w] of grids) {
    for (let ti = 0; ti < t; ti++)
      for (let bh = 0; bh < h / merge; bh++)
        for (let bw = 0; bw < w / merge; bw++)
          for (let mh = 0; mh < merge; mh++)
            for (let mw = 0; mw < merge; mw++) {
              const rows = axis(bh * merge + mh, h);
              const cols = axis(bw * merge + mw, w);
              for (const [r, wr] of rows)
                for (const [c, wc] of cols) {
                  index.push(r * side + c);
                  weight.push(f(wr * wc));
                }
            }
  }
  return part === "index"
    ? { shape: [index.length], data: new Float32Array(index) }
    : { shape: [weight.length / 4, 4], data: new Float32Array(weight) };
}
