import { antialiasTaps } from "../image/antialias.ts";
import { evalDim, type DimEnv } from "../../core/dims.ts";
import type { BinaryFn, Graph, Node, UnaryFn } from "../../core/graph.ts";
import { rowsOf, sizeOf, stridesOf, type HostTensor } from "../tensor.ts";

/**
 * The CPU reference: executes any graph one primitive at a time, in plain TypeScript with
 * float64 accumulation. It shares no code with the GPU path and is the oracle every GPU result is checked against.
 */
export function interpret(
  g: Graph,
  inputs: ReadonlyMap<string, HostTensor>,
  params: ReadonlyMap<string, HostTensor>,
  env: DimEnv,
): Map<string, HostTensor> {
  const values: HostTensor[] = [];
  const remaining = g.nodes.map(() => 0);
  for (const n of g.nodes) for (const i of n.inputs) remaining[i]++;
  const keep = new Set(g.outputs.map((o) => o.node));
  for (const n of g.nodes) {
    const shape = n.shape.map((d) => evalDim(d, env));
    values[n.id] = evalNode(
      n,
      shape,
      n.inputs.map((i) => values[i]),
      inputs,
      params,
    );
    // Free intermediates once their last consumer ran: full-size reference runs stay within memory.
    for (const i of n.inputs) if (--remaining[i] === 0 && !keep.has(i)) values[i] = { shape: [], data: new Float32Array(0) };
  }
  return new Map(g.outputs.map((o) => [o.name, values[o.node]]));
}

const UNARY: Record<UnaryFn, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  erf,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  recip: (x) => 1 / x,
  abs: Math.abs,
  relu: (x) => Math.max(0, x),
};

const BINARY: Record<BinaryFn, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: Math.max,
  min: Math.min,
  pow: Math.pow,
};

/** erf to double precision: Maclaurin series for |x| < 2.5, the erfc continued fraction beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax;
    let term = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc continued fraction (Lentz), converges fast for x >= 2.5.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

/** Offsets into `shape` (right-aligned, broadcast dims of size 1 get stride 0) for each index of `out`. */
function broadcastOffsets(shape: readonly number[], out: readonly number[]): Int32Array {
  const rank = out.length;
  const st = stridesOf(shape);
  const bst = out.map((_, i) => {
    const j = i - (rank - shape.length);
    return j < 0 || shape[j] === 1 ? 0 : st[j];
  });
  return mapIndices(out, (idx) => idx.reduce((acc, v, i) => acc + v * bst[i], 0));
}

function mapIndices(shape: readonly number[], f: (idx: number[]) => number): Int32Array {
  const n = sizeOf(shape);
  const res = new Int32Array(n);
  const idx = shape.map(() => 0);
  for (let i = 0; i < n; i++) {
    res[i] = f(idx);
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return res;
}

function gather(src: HostTensor, shape: number[], offsets: Int32Array): HostTensor {
  const data = new Float32Array(offsets.length);
  for (let i = 0; i < offsets.length; i++) data[i] = src.data[offsets[i]];
  return { shape, data };
}

function evalNode(
  n: Node,
  shape: number[],
  args: HostTensor[],
  inputs: ReadonlyMap<string, HostTensor>,
  params: ReadonlyMap<string, HostTensor>,
): HostTensor {
  const op = n.op;
  switch (op.kind) {
    case "input":
    case "param": {
      const full = (op.kind === "input" ? inputs : params).get(op.name);
      if (!full) throw new Error(`reference: no value for ${op.kind} '${op.name}'`);
      const t = op.kind === "param" && op.rows ? { shape, data: rowsOf(full, op.rows) } : full;
      if (t.data.length !== sizeOf(shape))
        throw new Error(`reference: ${op.kind} '${op.name}' has ${t.data.length} values, expected shape [${shape.join(", ")}]`);
      return { shape, data: t.data };
    }
    case "const":
      return { shape, data: new Float32Array([op.value]) };
    case "unary": {
      const f = UNARY[op.fn];
      return { shape, data: args[0].data.map((x) => f(x)) };
    }
    case "binary": {
      const f = BINARY[op.fn];
      const oa = broadcastOffsets(args[0].shape, shape);
      const ob = broadcastOffsets(args[1].shape, shape);
      const data = new Float32Array(oa.length);
      for (let i = 0; i < data.length; i++) data[i] = f(args[0].data[oa[i]], args[1].data[ob[i]]);
      return { shape, data };
    }
    case "reduce": {
      const src = args[0];
      const len = src.shape[op.axis];
      const st = stridesOf(src.shape)[op.axis];
      const srcStrides = stridesOf(src.shape);
      const base = mapIndices(shape, (idx) => idx.reduce((acc, v, i) => acc + v * srcStrides[i], 0));
      const data = new Float32Array(base.length);
      for (let i = 0; i < base.length; i++) {
        let acc = op.fn === "max" ? -Infinity : 0;
        for (let k = 0; k < len; k++) {
          const v = src.data[base[i] + k * st];
          acc = op.fn === "max" ? Math.max(acc, v) : acc + v;
        }
        data[i] = op.fn === "mean" ? acc / len : acc;
      }
      return { shape, data };
    }
    case "matmul": {
      const [a, b] = args;
      const r = shape.length;
      const M = shape[r - 2];
      const N = shape[r - 1];
      const K = a.shape[a.shape.length - 1];
      const batch = shape.slice(0, -2);
      const oa = broadcastOffsets(a.shape.slice(0, -2), batch);
      const ob = broadcastOffsets(b.shape.slice(0, -2), batch);
      const data = new Float32Array(sizeOf(shape));
      for (let bi = 0; bi < oa.length; bi++) {
        const abase = oa[bi] * M * K;
        const bbase = ob[bi] * N * K;
        for (let m = 0; m < M; m++) {
          for (let nn = 0; nn < N; nn++) {
            let acc = 0;
            for (let k = 0; k < K; k++) acc += a.data[abase + m * K + k] * b.data[bbase + nn * K + k];
            data[(bi * M + m) * N + nn] = acc;
          }
        }
      }
      return { shape, data };
    }
    case "reshape":
    case "contiguous":
      return { shape, data: args[0].data };
    case "permute": {
      const st = stridesOf(args[0].shape);
      return gather(
        args[0],
        shape,
        mapIndices(shape, (idx) => idx.reduce((acc, v, i) => acc + v * st[op.perm[i]], 0)),
      );
    }
    case "slice": {
      const st = stridesOf(args[0].shape);
      const start = typeof op.start === "number" ? op.start : 0;
      return gather(
        args[0],
        shape,
        mapIndices(shape, (idx) => idx.reduce((acc, v, i) => acc + (i === op.axis ? v + start : v) * st[i], 0)),
      );
    }
    case "concat": {
      const [a, b] = args;
      const split = a.shape[op.axis];
      const sa = stridesOf(a.shape);
      const sb = stridesOf(b.shape);
      const data = new Float32Array(sizeOf(shape));
      let i = 0;
      mapIndices(shape, (idx) => {
        const first = idx[op.axis] < split;
        data[i++] = first
          ? a.data[idx.reduce((acc, v, j) => acc + v * sa[j], 0)]
          : b.data[idx.reduce((acc, v, j) => acc + (j === op.axis ? v - split : v) * sb[j], 0)];
        return 0;
      });
      return { shape, data };
    }
    case "broadcast":
      return gather(args[0], shape, broadcastOffsets(args[0].shape, shape));
    case "resize2d": {
      const src = args[0];
      const r = shape.length;
      const [H, W] = src.shape.slice(-2);
      const [OH, OW] = shape.slice(-2);
      const taps = (dst: number, inSize: number, outSize: number): [number, number][] => {
        if (op.antialias) return antialiasTaps(dst, inSize, outSize, op.mode);
        let pos = ((dst + 0.5) * inSize) / outSize - 0.5;
        if (op.mode === "bilinear") pos = Math.max(pos, 0);
        const base = Math.floor(pos);
        const t = pos - base;
        const clamp = (k: number): number => Math.min(Math.max(base + k, 0), inSize - 1);
        if (op.mode === "bilinear")
          return [
            [clamp(0), 1 - t],
            [clamp(1), t],
          ];
        const A = -0.75;
        const c1 = (x: number): number => ((A + 2) * x - (A + 3)) * x * x + 1;
        const c2 = (x: number): number => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
        return [
          [clamp(-1), c2(t + 1)],
          [clamp(0), c1(t)],
          [clamp(1), c1(1 - t)],
          [clamp(2), c2(2 - t)],
        ];
      };
      const outer = sizeOf(shape.slice(0, r - 2));
      const data = new Float32Array(sizeOf(shape));
      for (let o = 0; o < outer; o++) {
        for (let y = 0; y < OH; y++) {
          const ty = taps(y, H, OH);
          for (let x = 0; x < OW; x++) {
            let acc = 0;
            for (const [yi, wy] of ty) for (const [xj, wx] of taps(x, W, OW)) acc += wy * wx * src.data[(o * H + yi) * W + xj];
            data[(o * OH + y) * OW + x] = acc;
          }
        }
      }
      return { shape, data };
    }
    case "im2col": {
      const [B, C, H, W] = args[0].shape;
      const [kh, kw] = op.kernel;
      const OW = Math.floor((W + 2 * op.padding[1] - kw) / op.stride[1]) + 1;
      const data = new Float32Array(sizeOf(shape));
      let i = 0;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < shape[1]; t++) {
          const oh = Math.floor(t / OW);
          const ow = t % OW;
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < kh; ki++) {
              for (let kj = 0; kj < kw; kj++) {
                const y = oh * op.stride[0] + ki - op.padding[0];
                const x = ow * op.stride[1] + kj - op.padding[1];
                data[i++] = y >= 0 && y < H && x >= 0 && x < W ? args[0].data[((b * C + c) * H + y) * W + x] : 0;
              }
            }
          }
        }
      }
      return { shape, data };
    }
    case "pad": {
      const st = stridesOf(args[0].shape);
      const size = args[0].shape[op.axis];
      const data = new Float32Array(sizeOf(shape));
      let i = 0;
      mapIndices(shape, (idx) => {
        const at = idx[op.axis] - op.before;
        data[i++] = at >= 0 && at < size ? args[0].data[idx.reduce((acc, v, j) => acc + (j === op.axis ? at : v) * st[j], 0)] : op.value;
        return 0;
      });
      return { shape, data };
    }
    case "gather": {
      const st = stridesOf(args[0].shape);
      const index = args[1].data;
      return gather(
        args[0],
        shape,
        mapIndices(shape, (idx) =>
          idx.reduce((acc, v, i) => {
            const at = i === op.axis ? index[v] : v;
            if (!(at >= 0 && at < args[0].shape[i]))
              throw new Error(`reference: gather index ${at} is out of range for axis ${i} of size ${args[0].shape[i]}`);
            return acc + at * st[i];
          }, 0),
        ),
      );
    }
    case "attention": {
      const [q, k, v] = args;
      const seg = op.segmented ? args[3] : undefined;
      const [rowBias, colBias] = op.relative ? args.slice(-2) : [undefined, undefined];
      const [B, T, D] = shape;
      const S = k.shape[1];
      /** Keys query t may see: its segment, or all keys when segments are off (or do not cover t). */
      const keyRange = (t: number): [number, number] => {
        if (!seg) return [0, S];
        for (let i = 0; i + 1 < seg.data.length; i++) if (t >= seg.data[i] && t < seg.data[i + 1]) return [seg.data[i], seg.data[i + 1]];
        return [0, S];
      };
      const dh = D / op.heads;
      const out = new Float32Array(B * T * D);
      const scores = new Float64Array(S);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < op.heads; h++) {
          for (let t = 0; t < T; t++) {
            const qo = (b * T + t) * D + h * dh;
            const [lo, all] = keyRange(t);
            const hi = op.causal ? Math.min(all, t + 1) : all;
            let max = -Infinity;
            for (let s = lo; s < hi; s++) {
              const ko = (b * S + s) * D + h * dh;
              let dot = 0;
              for (let d = 0; d < dh; d++) dot += q.data[qo + d] * k.data[ko + d];
              scores[s] = dot * op.scale + (rowBias && colBias ? relativeBias(rowBias, colBias, b, t, h, s, op.heads) : 0);
              max = Math.max(max, scores[s]);
            }
            let sum = 0;
            for (let s = lo; s < hi; s++) sum += scores[s] = Math.exp(scores[s] - max);
            for (let d = 0; d < dh; d++) {
              let acc = 0;
              for (let s = lo; s < hi; s++) acc += scores[s] * v.data[(b * S + s) * D + h * dh + d];
              out[qo + d] = acc / sum;
            }
          }
        }
      }
      return { shape, data: out };
    }
  }
}

/** rowBias[b, t, h·KH + s / KW] + colBias[b, t, h·KW + s % KW]: the key's row and column in its KH x KW grid. */
function relativeBias(rowBias: HostTensor, colBias: HostTensor, b: number, t: number, h: number, s: number, heads: number): number {
  const [, T, rw] = rowBias.shape;
  const cw = colBias.shape[2];
  const [kh, kw] = [rw / heads, cw / heads];
  return rowBias.data[(b * T + t) * rw + h * kh + Math.floor(s / kw)] + colBias.data[(b * T + t) * cw + h * kw + (s % kw)];
}
