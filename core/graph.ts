import type { Dim } from "./dims.ts";

/** f32 for values; i32 for index inputs (segment boundaries), which no arithmetic touches. */
export type DType = "f32" | "f16" | "i32";
export type UnaryFn = "neg" | "exp" | "log" | "sqrt" | "rsqrt" | "tanh" | "erf" | "sigmoid" | "recip" | "abs" | "relu";
export type BinaryFn = "add" | "sub" | "mul" | "div" | "max" | "min" | "pow";
export type ReduceFn = "sum" | "mean" | "max";

export const UNARY_FNS: readonly UnaryFn[] = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "recip", "abs", "relu"];

/** Where a node came from: the graph-file call that created it (and the call chain through blocks). */
export interface SourceRef {
  file: string;
  line: number;
  column: number;
}

export type Op =
  | { kind: "input"; name: string }
  /** A checkpoint tensor, or with `rows` the rows [start, end) of its first axis only. */
  | { kind: "param"; name: string; rows?: [number, number] }
  | { kind: "const"; value: number }
  | { kind: "unary"; fn: UnaryFn }
  | { kind: "binary"; fn: BinaryFn }
  /** Reduction over one axis, keeping it with size 1. */
  | { kind: "reduce"; fn: ReduceFn; axis: number }
  /**
   * a [..., M, K] times b [..., N, K] transposed: the layout of checkpoint linear weights. `storedKN`:
   * b is a transposed view of a 2-D tensor stored [K, N] with N a multiple of 4, so the kernel loads four
   * output columns of one row of K as one vector (set by the mark-stored-weights pass, read by codegen).
   */
  | { kind: "matmul"; storedKN?: boolean }
  | { kind: "reshape" }
  /** The same values, written to a buffer of their own in row-major order (a view made real: a weight stored transposed). */
  | { kind: "contiguous" }
  | { kind: "permute"; perm: number[] }
  | { kind: "slice"; axis: number; start: Dim }
  | { kind: "concat"; axis: number }
  | { kind: "broadcast" }
  /**
   * Convolution patches of x [B, C, H, W] as a view: [B, OH·OW, C·kh·kw], element (b, oh·OW + ow,
   * (c·kh + i)·kw + j) = x[b, c, oh·sh + i − ph, ow·sw + j − pw], zero outside. A matmul over it is a Conv2d.
   */
  | { kind: "im2col"; kernel: [number, number]; stride: [number, number]; padding: [number, number] }
  /** Zero (or `value`) padding of `before` elements in front of `axis` (and the rest after). */
  | { kind: "pad"; axis: number; before: number; value: number }
  /**
   * torch.nn.functional.interpolate over the last two axes, align_corners=False: bilinear, or bicubic
   * (A = -0.75, taps clamped to the edge). Used for position tables at another resolution.
   */
  /** `antialias` (bilinear): downscaling averages over a triangle filter widened by the scale, as torch's antialias=True. */
  | { kind: "resize2d"; mode: "bilinear" | "bicubic"; antialias: boolean }
  /** x indexed along `axis` by an i32 vector: out[..., i, ...] = x[..., idx[i], ...] (window reordering). */
  | { kind: "gather"; axis: number }
  /**
   * softmax(q k^T * scale) v per head; q, k, v are [B, T, heads * dh]. With `segmented`, a fourth input
   * (i32 [S + 1], cumulative boundaries like cu_seqlens) splits the tokens into segments (images,
   * windows) that attend only within themselves.
   */
  /**
   * `causal`: query t sees keys up to t (a text decoder's mask; needs self-attention). `relative`: two
   * last inputs, row and column biases [B, T, heads·KH] and [B, T, heads·KW] over keys laid out as a
   * KH x KW grid, add rowBias[t, h, s / KW] + colBias[t, h, s % KW] to each logit (SAM's decomposed
   * relative positions).
   */
  | { kind: "attention"; heads: number; scale: number; segmented: boolean; causal: boolean; relative: boolean };

export type OpKind = Op["kind"];

export interface Node {
  id: number;
  op: Op;
  inputs: number[];
  shape: Dim[];
  dtype: DType;
  source: SourceRef[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: { name: string; node: number }[];
  outputs: { name: string; node: number }[];
}

export const MOVEMENT_OPS: ReadonlySet<OpKind> = new Set(["reshape", "permute", "slice", "concat", "broadcast", "gather", "pad", "im2col"]);
export const ELEMENTWISE_OPS: ReadonlySet<OpKind> = new Set(["unary", "binary", "const"]);

export function isMovement(n: Node): boolean {
  return MOVEMENT_OPS.has(n.op.kind);
}

export function isElementwise(n: Node): boolean {
  return ELEMENTWISE_OPS.has(n.op.kind);
}

export function consumersOf(g: Graph): number[][] {
  const out: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of n.inputs) out[i].push(n.id);
  return out;
}
