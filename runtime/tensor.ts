/** A dense row-major f32 tensor on the host. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function tensor(shape: number[], data?: Float32Array | number[]): HostTensor {
  const n = sizeOf(shape);
  const d = data instanceof Float32Array ? data : data ? new Float32Array(data) : new Float32Array(n);
  if (d.length !== n) throw new Error(`tensor data has ${d.length} values, shape [${shape.join(", ")}] needs ${n}`);
  return { shape, data: d };
}

export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  if (a.data.length !== b.data.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Rows [start, end) of a tensor's first axis. */
export function rowsOf(t: HostTensor, [start, end]: [number, number]): Float32Array {
  const row = t.shape.length === 0 || t.shape[0] === 0 ? 0 : t.data.length / t.shape[0];
  if (end > t.shape[0]) throw new Error(`rows ${start}:${end} are past the ${t.shape[0]} rows of the tensor`);
  return t.data.subarray(start * row, end * row);
}

/** Where an executor gets each checkpoint tensor by name: a Map, or a source that reads or makes it when asked. */
export interface WeightSource {
  get(name: string): HostTensor | undefined;
}
