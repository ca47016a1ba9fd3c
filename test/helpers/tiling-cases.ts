import { compileGraph } from "../../compiler/compile.ts";
import type { KernelTiling } from "../../compiler/codegen/tiling.ts";
import type { Graph } from "../../core/graph.ts";

// The cases every tiling runs on (test/runtime/tilings.test.ts for the CPU and portable classes,
// test/runtime/gpu-tilings.test.ts for the GPU class), against the CPU reference (same tolerance as
// kernels.test.ts: 2e-5 of max(10, largest value)).
export const REL_TOL = 2e-5;

/** Every tunable kernel of the graph compiled with `tiling` (matmul tilings for matmuls, attention tilings for attention). */
export function tableFor(g: Graph, tiling: KernelTiling): Map<string, KernelTiling> {
  const keys = compileGraph(g, { fuse: true }).kernels.flatMap((k) => (k.tuning ? [k.tuning.key] : []));
  const forAttention = tiling.strategy === "flash" || tiling.strategy === "staged";
  return new Map(keys.filter((k) => k.startsWith("attention") === forAttention).map((k) => [k, tiling]));
}

export const matmulCases: { name: string; src: string; inputs: Record<string, number[]> }[] = [
  {
    name: "LayerNorm folded past a linear, gelu epilogue, K = 37, N = 36, 2 x 33 rows",
    src: `input x: f32[2, 33, 37]\n  output y = gelu(linear(layernorm(x, "ln"), "fc", 36))`,
    inputs: { x: [2, 33, 37] },
  },
  {
    name: "a linear with residual, K = 19 (not a multiple of 8), N = 4",
    src: `input x: f32[3, 19]\n  output y = linear(x, "fc", 4) + 1`,
    inputs: { x: [3, 19] },
  },
  {
    name: "a wide linear, N = 388 (past one workgroup's columns), 9 rows",
    src: `input x: f32[9, 24]\n  output y = linear(x, "fc", 388)`,
    inputs: { x: [9, 24] },
  },
  {
    name: "a class token and position table in the epilogue, 2 x (1 + 7) rows, K = 70, N = 12",
    src: `input x: f32[2, 7, 70]\n  t = broadcast_to(param("cls", [1, 1, 12]), [2, 1, 12])\n  output y = concat([t, linear(x, "patch", 12)], 1) + param("pos", [8, 12])`,
    inputs: { x: [2, 7, 70] },
  },
];

export interface Case {
  name: string;
  src: string;
  inputs: Record<string, number[]>;
  ints?: Record<string, number[]>;
}

export const attentionCases: Case[] = [
  {
    name: "3 heads of 7 (no vec4), 13 tokens",
    src: `input x: f32[2, 13, 21]\n  output y = attention(x, x * 0.5, x + 1, 3)`,
    inputs: { x: [2, 13, 21] },
  },
  {
    name: "2 heads of 64, 75 tokens (two key blocks, the last query tile part-full)",
    src: `input x: f32[1, 75, 128]\n  output y = attention(x, x * 0.25, x + 1, 2)`,
    inputs: { x: [1, 75, 128] },
  },
  {
    name: "causal, 2 heads of 68, 70 tokens",
    src: `input x: f32[1, 70, 136]\n  output y = attention(x * 0.3, x * 0.2, x, 2, causal = true)`,
    inputs: { x: [1, 70, 136] },
  },
  {
    name: "segments of 5, 30 and 50 tokens",
    src: `input x: f32[1, 85, 64]\n  input s: i32[4]\n  output y = attention(x * 0.3, x * 0.2, x, 1, segments = s)`,
    inputs: { x: [1, 85, 64] },
    ints: { s: [0, 5, 35, 85] },
  },
  {
    name: "relative-position biases, 2 heads, 3 x 4 key grid",
    src: `input x: f32[2, 12, 8]\n  input rb: f32[2, 12, 6]\n  input cb: f32[2, 12, 8]\n  output y = attention(x, x * 0.5, x + 1, 2, row_bias = rb, col_bias = cb)`,
    inputs: { x: [2, 12, 8], rb: [2, 12, 6], cb: [2, 12, 8] },
  },
];

/**
 * The cases for the attention candidates besides the defaults (which run every case above): a head
 * without vec4 whose 13 tokens part-fill the first key block and the second query tile, and a causal
 * vec4 head of 68 (17 vec4s, not a multiple of any thread count) over 70 tokens: two key blocks and more
 * for every block size under 128, the running maximum rescaled across them, the last query tile part-full.
 * The non-causal 75-token case would add no code path these two leave out, for one more pipeline per
 * candidate (seconds each on lavapipe).
 */
export const candidateCases: Case[] = [attentionCases[0], attentionCases[2]];
