import type { LayoutItem, Segment } from "./types.ts";

/**
 * Qwen2-VL's get_rope_index for one unpadded sequence: text tokens take the next position on all three
 * axes; an item with patch grid (t, gh, gw) takes (T(a) + s, b + s, c + s) over its merged grid
 * (a < t, b < gh/merge, c < gw/merge), s being the next position; then the next position is one past the
 * largest it used. T(a) = a, or for Qwen2.5-VL videos floor(a · secondsPerGrid · tokensPerSecond).
 * `items` are the spans' items in sequence order. Returns the 3 x L ids and rope_delta = max + 1 - L.
 */
export function mropePositions(
  segments: readonly Segment[],
  merge: number,
  tokensPerSecond: number | null,
  items: readonly LayoutItem[],
): { positions: [number[], number[], number[]]; delta: number } {
  const t: number[] = [];
  const h: number[] = [];
  const w: number[] = [];
  let next = 0;
  let item = 0;
  for (const s of segments) {
    if (s.kind === "text" || s.kind === "special") {
      for (let i = 0; i < (s.length ?? 0); i++, next++) {
        t.push(next);
        h.push(next);
        w.push(next);
      }
      continue;
    }
    const it = items[item++];
    if (!it.grid) throw new Error(`${s.kind} ${s.source}: M-RoPE positions need its patch grid`);
    const [gt, gh, gw] = it.grid;
    const [H, W] = [gh / merge, gw / merge];
    if (gt * H * W !== s.length)
      throw new Error(`${s.kind} ${s.source}: the layout gives ${s.length} tokens, but its merged grid has ${gt * H * W}`);
    const step = tokensPerSecond !== null && it.secondsPerGrid !== undefined ? it.secondsPerGrid * tokensPerSecond : 1;
    const temporal = (a: number): number => (step === 1 ? a : Math.floor(a * step));
    let largest = 0;
    for (let a = 0; a < gt; a++) {
      for (let b = 0; b < H; b++) {
        for (let c = 0; c < W; c++) {
          t.push(temporal(a) + next);
          h.push(b + next);
          w.push(c + next);
        }
      }
      largest = Math.max(largest, temporal(a));
    }
    next += Math.max(largest, H - 1, W - 1) + 1;
  }
  return { positions: [t, h, w], delta: next - t.length };
}

/**
 * The LLM's M-RoPE rotation angles of one token with position triple (t, h, w): frequency k uses the
 * temporal, height or width position by `sections` ([16, 24, 24] for Qwen2-VL: k < 16 temporal,
 * k < 40 height, else width), angle = position · theta^(−2k / headDim). The 128-wide cos/sin tables
 * repeat these 64 angles twice.
 */
export function mropeAngles(
  triple: readonly [number, number, number],
  headDim = 128,
  theta = 1e6,
  sections: readonly number[] = [16, 24, 24],
): number[] {
  const axisOf = (k: number): number => (k < sections[0] ? 0 : k < sections[0] + sections[1] ? 1 : 2);
  return Array.from({ length: headDim / 2 }, (_, k) => triple[axisOf(k)] * theta ** ((-2 * k) / headDim));
}
