import { dimAdd, dimFloorDiv, dimMul, dimsEqual, dimToString, numel, shapeToString, type Dim } from "../../core/dims.ts";
import type { BinaryFn, DType, Graph, Node, Op, ReduceFn, SourceRef, UnaryFn } from "../../core/graph.ts";

/** A bound on graph size: the largest published towers unroll to about 2,000 primitives a layer. */
export const MAX_NODES = 1_000_000;

/** A shape or argument error; the elaborator turns it into a diagnostic at the call site. */
export class ShapeError extends Error {}

/**
 * Builds a graph node by node, inferring and checking every shape as it goes,
 * so a bad graph file fails at the line that made the bad node.
 */
export class GraphBuilder {
  readonly graph: Graph;
  source: SourceRef[] = [];
  private readonly params = new Map<string, number>();
  private readonly consts = new Map<number, number>();

  constructor(name: string) {
    this.graph = { name, nodes: [], inputs: [], outputs: [] };
  }

  node(id: number): Node {
    return this.graph.nodes[id];
  }

  private add(op: Op, inputs: number[], shape: Dim[], dtype: DType = "f32"): number {
    if (this.graph.nodes.length >= MAX_NODES)
      throw new ShapeError(`the graph grows past ${MAX_NODES.toLocaleString("en-US")} primitive ops`);
    const indexInput = inputs.findIndex((i) => this.node(i).dtype === "i32");
    if (indexInput >= 0 && !(op.kind === "attention" && indexInput === 3) && !(op.kind === "gather" && indexInput === 1)) {
      throw new ShapeError(`i32 tensors hold indices (attention segments); they cannot be used by ${op.kind}`);
    }
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, op, inputs, shape, dtype, source: this.source });
    return id;
  }

  input(name: string, shape: Dim[], dtype: DType = "f32"): number {
    const id = this.add({ kind: "input", name }, [], shape, dtype);
    this.graph.inputs.push({ name, node: id });
    return id;
  }

  output(name: string, node: number): void {
    if (this.graph.outputs.some((o) => o.name === name)) throw new ShapeError(`output '${name}' is declared twice`);
    this.graph.outputs.push({ name, node });
  }

  param(name: string, shape: Dim[]): number {
    const existing = this.params.get(name);
    if (existing !== undefined) {
      const prev = this.node(existing).shape;
      if (prev.length !== shape.length || !prev.every((d, i) => dimsEqual(d, shape[i]))) {
        throw new ShapeError(`parameter '${name}' used with shape ${shapeToString(shape)} but earlier with ${shapeToString(prev)}`);
      }
      return existing;
    }
    for (const d of shape)
      if (typeof d !== "number" || d <= 0 || !Number.isInteger(d))
        throw new ShapeError(`parameter '${name}' needs a fixed positive integer shape, got ${shapeToString(shape)}`);
    const id = this.add({ kind: "param", name }, [], shape);
    this.params.set(name, id);
    return id;
  }

  constant(value: number): number {
    if (!Number.isFinite(value)) throw new ShapeError(`constant ${value} is not a finite number`);
    const existing = this.consts.get(value);
    if (existing !== undefined) return existing;
    const id = this.add({ kind: "const", value }, [], []);
    this.consts.set(value, id);
    return id;
  }

  unary(fn: UnaryFn, x: number): number {
    return this.add({ kind: "unary", fn }, [x], this.node(x).shape);
  }

  binary(fn: BinaryFn, a: number, b: number): number {
    return this.add({ kind: "binary", fn }, [a, b], broadcastShapes(this.node(a).shape, this.node(b).shape));
  }

  reduce(fn: ReduceFn, x: number, axisArg: number): number {
    const shape = this.node(x).shape;
    const axis = normalizeAxis(axisArg, shape.length);
    return this.add(
      { kind: "reduce", fn, axis },
      [x],
      shape.map((d, i) => (i === axis ? 1 : d)),
    );
  }

  matmul(a: number, b: number): number {
    const sa = this.node(a).shape;
    const sb = this.node(b).shape;
    if (sa.length < 2 || sb.length < 2)
      throw new ShapeError(`matmul_nt needs operands of rank >= 2, got ${shapeToString(sa)} and ${shapeToString(sb)}`);
    const k1 = sa[sa.length - 1];
    const k2 = sb[sb.length - 1];
    if (!dimsEqual(k1, k2))
      throw new ShapeError(
        `matmul_nt: contraction dims differ: ${shapeToString(sa)} x ${shapeToString(sb)}^T (${dimToString(k1)} vs ${dimToString(k2)})`,
      );
    const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2));
    return this.add({ kind: "matmul" }, [a, b], [...batch, sa[sa.length - 2], sb[sb.length - 2]]);
  }

  contiguous(x: number): number {
    return this.add({ kind: "contiguous" }, [x], this.node(x).shape);
  }

  reshape(x: number, shape: Dim[]): number {
    const from = this.node(x).shape;
    if (!dimsEqual(numel(from), numel(shape)))
      throw new ShapeError(`reshape: cannot view ${shapeToString(from)} as ${shapeToString(shape)} (element counts differ)`);
    return this.add({ kind: "reshape" }, [x], shape);
  }

  permute(x: number, perm: number[]): number {
    const from = this.node(x).shape;
    const sorted = [...perm].sort((p, q) => p - q);
    if (perm.length !== from.length || sorted.some((p, i) => p !== i))
      throw new ShapeError(`permute: [${perm.join(", ")}] is not a permutation of the ${from.length} axes of ${shapeToString(from)}`);
    return this.add(
      { kind: "permute", perm },
      [x],
      perm.map((p) => from[p]),
    );
  }

  slice(x: number, axisArg: number, start: Dim, end: Dim): number {
    const from = this.node(x).shape;
    const axis = normalizeAxis(axisArg, from.length);
    const len = typeof end === "number" && typeof start === "number" ? end - start : dimAdd(end, typeof start === "number" ? -start : 0);
    if (typeof start !== "number") throw new ShapeError("slice: start must be a fixed integer");
    if (typeof len === "number" && len <= 0) throw new ShapeError(`slice: empty range ${String(start)}..${dimToString(end)}`);
    const size = from[axis];
    if (start === 0 && dimsEqual(end, size)) return x;
    if (typeof size === "number" && typeof end === "number" && end > size)
      throw new ShapeError(`slice: end ${end} is past the size ${size} of axis ${axis} of ${shapeToString(from)}`);
    return this.add(
      { kind: "slice", axis, start },
      [x],
      from.map((d, i) => (i === axis ? len : d)),
    );
  }

  concat(xs: number[], axisArg: number): number {
    if (xs.length === 0) throw new ShapeError("concat needs at least one tensor");
    if (xs.length === 1) return xs[0];
    const first = this.node(xs[0]).shape;
    const axis = normalizeAxis(axisArg, first.length);
    let total: Dim = 0;
    for (const x of xs) {
      const s = this.node(x).shape;
      if (s.length !== first.length || s.some((d, i) => i !== axis && !dimsEqual(d, first[i]))) {
        throw new ShapeError(`concat along axis ${axis}: ${shapeToString(s)} does not match ${shapeToString(first)}`);
      }
      total = dimAdd(total, s[axis]);
    }
    // Binary concat nodes keep the index maps simple: one split point each.
    let acc = xs[0];
    for (const x of xs.slice(1)) {
      const a = this.node(acc).shape;
      acc = this.add(
        { kind: "concat", axis },
        [acc, x],
        a.map((d, i) => (i === axis ? dimAdd(d, this.node(x).shape[axis]) : d)),
      );
    }
    return acc;
  }

  im2col(x: number, kernel: [number, number], stride: [number, number], padding: [number, number]): number {
    const s = this.node(x).shape;
    if (s.length !== 4) throw new ShapeError(`im2col expects [B, C, H, W], got ${shapeToString(s)}`);
    if ([...kernel, ...stride].some((v) => !Number.isInteger(v) || v < 1) || padding.some((v) => !Number.isInteger(v) || v < 0)) {
      throw new ShapeError(
        `im2col: kernel and stride must be positive integers and padding non-negative, got kernel ${kernel}, stride ${stride}, padding ${padding}`,
      );
    }
    const out = [0, 1].map((i) => dimAdd(dimFloorDiv(dimAdd(s[2 + i], 2 * padding[i] - kernel[i]), stride[i]), 1));
    for (const d of out)
      if (typeof d === "number" && d < 1)
        throw new ShapeError(`im2col: a ${kernel.join("x")} kernel does not fit ${shapeToString(s)} with padding ${padding.join(",")}`);
    return this.add({ kind: "im2col", kernel, stride, padding }, [x], [s[0], dimMul(out[0], out[1]), dimMul(s[1], kernel[0] * kernel[1])]);
  }

  resize2d(x: number, height: Dim, width: Dim, mode: "bilinear" | "bicubic", antialias = false): number {
    const s = this.node(x).shape;
    if (s.length < 2) throw new ShapeError(`resize2d needs at least 2 axes, got ${shapeToString(s)}`);
    for (const d of [height, width])
      if (typeof d === "number" && (!Number.isInteger(d) || d < 1))
        throw new ShapeError(`resize2d: sizes must be positive integers, got ${height} x ${width}`);
    if (antialias && [height, width, ...s.slice(-2)].some((d) => typeof d !== "number"))
      throw new ShapeError("resize2d: antialias needs fixed sizes");
    return this.add({ kind: "resize2d", mode, antialias }, [x], [...s.slice(0, -2), height, width]);
  }

  pad(x: number, axisArg: number, before: number, after: number, value: number): number {
    const from = this.node(x).shape;
    const axis = normalizeAxis(axisArg, from.length);
    if (!Number.isInteger(before) || !Number.isInteger(after) || before < 0 || after < 0)
      throw new ShapeError(`pad: amounts must be non-negative integers, got ${before} and ${after}`);
    if (before === 0 && after === 0) return x;
    return this.add(
      { kind: "pad", axis, before, value },
      [x],
      from.map((d, i) => (i === axis ? dimAdd(d, before + after) : d)),
    );
  }

  gather(x: number, axisArg: number, index: number): number {
    const from = this.node(x).shape;
    const axis = normalizeAxis(axisArg, from.length);
    const idx = this.node(index);
    if (idx.dtype !== "i32" || idx.shape.length !== 1)
      throw new ShapeError(`gather: the index must be an i32 vector, got ${idx.dtype}${shapeToString(idx.shape)}`);
    return this.add(
      { kind: "gather", axis },
      [x, index],
      from.map((d, i) => (i === axis ? idx.shape[0] : d)),
    );
  }

  broadcastTo(x: number, shape: Dim[]): number {
    const from = this.node(x).shape;
    broadcastShapes(from, shape, shape);
    return this.add({ kind: "broadcast" }, [x], shape);
  }

  attention(
    q: number,
    k: number,
    v: number,
    heads: number,
    scale: number | null,
    segments: number | null = null,
    causal = false,
    relative: [number, number] | null = null,
  ): number {
    const [sq, sk, sv] = [q, k, v].map((t) => this.node(t).shape);
    if (sq.length !== 3 || sk.length !== 3 || sv.length !== 3)
      throw new ShapeError(
        `attention expects q, k, v of shape [B, T, D], got ${shapeToString(sq)}, ${shapeToString(sk)}, ${shapeToString(sv)}`,
      );
    const d = sq[2];
    if (!Number.isInteger(heads) || heads < 1) throw new ShapeError(`attention: heads must be a positive integer, got ${heads}`);
    if (typeof d !== "number" || d % heads !== 0)
      throw new ShapeError(`attention: width ${dimToString(d)} is not divisible by ${heads} heads`);
    if (scale !== null && !Number.isFinite(scale)) throw new ShapeError(`attention: scale ${scale} is not a finite number`);
    if (!dimsEqual(sk[2], d) || !dimsEqual(sv[2], d)) throw new ShapeError("attention: q, k and v must have the same width");
    if (!dimsEqual(sk[1], sv[1])) throw new ShapeError("attention: k and v must have the same length");
    if (!dimsEqual(sq[0], sk[0]) || !dimsEqual(sq[0], sv[0])) throw new ShapeError("attention: q, k and v must have the same batch");
    if (segments !== null) {
      const seg = this.node(segments);
      if (seg.dtype !== "i32" || seg.shape.length !== 1)
        throw new ShapeError(
          `attention: segments must be an i32 vector of cumulative boundaries, got ${seg.dtype}${shapeToString(seg.shape)}`,
        );
      if (!dimsEqual(sq[1], sk[1])) throw new ShapeError("attention: segments need self-attention (q and k of the same length)");
    }
    if (causal && !dimsEqual(sq[1], sk[1]))
      throw new ShapeError("attention: a causal mask needs self-attention (q and k of the same length)");
    if (relative) {
      const [rows, cols] = relative.map((r) => this.node(r).shape);
      const [kh, kw] = [rows, cols].map((s) => (typeof s[2] === "number" ? s[2] / heads : NaN));
      if (rows.length !== 3 || cols.length !== 3 || !Number.isInteger(kh) || !Number.isInteger(kw))
        throw new ShapeError(
          `attention: row and column biases must be [B, T, heads * KH] and [B, T, heads * KW] with fixed widths, got ${shapeToString(rows)} and ${shapeToString(cols)}`,
        );
      if (!dimsEqual(sk[1], kh * kw))
        throw new ShapeError(`attention: the biases describe a ${kh} x ${kw} key grid, but there are ${dimToString(sk[1])} keys`);
      for (const s of [rows, cols])
        if (!dimsEqual(s[0], sq[0]) || !dimsEqual(s[1], sq[1]))
          throw new ShapeError(`attention: a bias ${shapeToString(s)} does not match the queries ${shapeToString(sq)}`);
    }
    const op = {
      kind: "attention" as const,
      heads,
      scale: scale ?? 1 / Math.sqrt(d / heads),
      segmented: segments !== null,
      causal,
      relative: relative !== null,
    };
    return this.add(op, [q, k, v, ...(segments === null ? [] : [segments]), ...(relative ?? [])], [sq[0], sq[1], d]);
  }
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting; with `target` set, `a` must broadcast to exactly that shape. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[], target?: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (dimsEqual(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else
      throw new ShapeError(
        `shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast (axis ${i}: ${dimToString(da)} vs ${dimToString(db)})`,
      );
  }
  if (target && (out.length !== target.length || !out.every((d, i) => dimsEqual(d, target[i])))) {
    throw new ShapeError(`cannot broadcast ${shapeToString(a)} to ${shapeToString(target)}`);
  }
  return out;
}
