/**
 * torch's antialiased taps (and PIL's): a triangle (bilinear) or Keys' cubic with A = -0.5 (bicubic),
 * widened by the scale when downscaling, normalised.
 */
export function antialiasTaps(dst: number, inSize: number, outSize: number, mode: "bilinear" | "bicubic"): [number, number][] {
  const scale = inSize / outSize;
  const support = (mode === "bicubic" ? 2 : 1) * Math.max(scale, 1);
  const inv = scale >= 1 ? 1 / scale : 1;
  const centre = scale * (dst + 0.5);
  const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
  const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
  const filter = (t: number): number => {
    const x = Math.abs(t);
    if (mode === "bilinear") return Math.max(0, 1 - x);
    return x < 1 ? (1.5 * x - 2.5) * x * x + 1 : x < 2 ? -0.5 * (((x - 5) * x + 8) * x - 4) : 0;
  };
  const taps: [number, number][] = [];
  for (let j = lo; j < hi; j++) taps.push([j, filter((j - centre + 0.5) * inv)]);
  const total = taps.reduce((a, [, w]) => a + w, 0);
  return taps.map(([j, w]) => [j, w / total]);
}
