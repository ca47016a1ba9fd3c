import type { HostTensor } from "../runtime/tensor.ts";

/** `name [1, 50, 768] mean 0.0012 std 0.98 min -3.1 max 2.9 | first 0.12 -0.40 ...` */
export function describeTensor(name: string, t: HostTensor): string {
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  for (const v of t.data) {
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    sum += v;
    sq += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const n = t.data.length - nonFinite;
  const mean = n ? sum / n : NaN;
  const std = n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : NaN;
  const f = (x: number): string => x.toPrecision(4);
  const first = Array.from(t.data.subarray(0, 4), f).join(" ");
  const bad = nonFinite ? ` NON-FINITE ${nonFinite}` : "";
  return `${name.padEnd(18)} [${t.shape.join(", ")}]  mean ${f(mean)} std ${f(std)} min ${f(min)} max ${f(max)}${bad} | ${first} ...`;
}
