import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { evalDim, type DimEnv } from "../../core/dims.ts";
import type { BinaryFn, Graph, Node, UnaryFn } from "../../core/graph.ts";

/** A graph that uses an operation the exporter does not write. */
export class OnnxExportError extends Error {}

/** Host tensors by parameter name, as the exporter needs them (f32 data, row-major). */
export interface ExportWeights {
  get(name: string): { shape: number[]; data: Float32Array } | undefined;
}

// 18: Resize's antialias (torch's interpolate(antialias=True)); reductions take their axes as an input.
const OPSET = 18;
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

const UNARY: Record<UnaryFn, string[]> = {
  neg: ["Neg"],
  exp: ["Exp"],
  log: ["Log"],
  sqrt: ["Sqrt"],
  rsqrt: ["Sqrt", "Reciprocal"],
  tanh: ["Tanh"],
  erf: ["Erf"],
  sigmoid: ["Sigmoid"],
  recip: ["Reciprocal"],
  abs: ["Abs"],
  relu: ["Relu"],
};
const BINARY: Record<BinaryFn, string> = { add: "Add", sub: "Sub", mul: "Mul", div: "Div", max: "Max", min: "Min", pow: "Pow" };

let types: protobuf.Root | undefined;
// keepCase: the field names stay as onnx.proto spells them (opset_import, not opsetImport).
const schema = (): protobuf.Root =>
  (types ??= protobuf.parse(readFileSync(new URL("./onnx.proto", import.meta.url), "utf8"), { keepCase: true }).root);

interface Attribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  ints?: number[];
}
interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: Attribute[];
}
interface Initializer {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * The graph as an ONNX model (opset 18) with its weights as initializers, every symbolic dim evaluated
 * with `env` (e.g. B = 1): what the peers (ONNX Runtime CPU and WebGPU) run in the benchmarks.
 * Views become Reshape / Transpose / Slice / Concat / Expand / Gather / Pad (im2col: strided slices of
 * the padded image, stacked), matmul_nt a Transpose and MatMul, resize2d a Resize, attention the usual
 * MatMul-Softmax-MatMul with heads split out and its masks or relative biases added to the logits.
 */
export function exportOnnx(g: Graph, weights: ExportWeights, env: DimEnv): Uint8Array {
  const nodes: OnnxNode[] = [];
  const initializers: Initializer[] = [];
  const shapeOf = (n: Node): number[] => n.shape.map((d) => evalDim(d, env));
  const name = (id: number): string => `v${id}`;
  let fresh = 0;
  const tmp = (): string => `t${fresh++}`;
  const emit = (op: string, input: string[], attribute: Attribute[] = [], output = tmp()): string => {
    nodes.push({ input, output: [output], name: `${op}_${nodes.length}`, op_type: op, attribute });
    return output;
  };
  const ints64 = (values: number[]): string => {
    const n = tmp();
    const data = new BigInt64Array(values.map(BigInt));
    initializers.push({ name: n, dims: [values.length], data_type: INT64, raw_data: new Uint8Array(data.buffer) });
    return n;
  };
  const ints64Scalar = (value: number): string => {
    const n = tmp();
    initializers.push({ name: n, dims: [], data_type: INT64, raw_data: new Uint8Array(BigInt64Array.of(BigInt(value)).buffer) });
    return n;
  };
  const floats = (n: string, shape: number[], data: Float32Array): string => {
    initializers.push({
      name: n,
      dims: shape,
      data_type: FLOAT,
      raw_data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    });
    return n;
  };
  const inputs: { name: string; dtype: number; shape: number[] }[] = [];
  const transpose = (x: string, perm: number[]): string => emit("Transpose", [x], [{ name: "perm", type: ATTR.INTS, ints: perm }]);
  const scalar = (v: number): string => floats(tmp(), [], Float32Array.of(v));

  /** Convolution patches as kh x kw strided slices of the padded image, stacked in (c, i, j) order. */
  const im2col = (x: string, [B, C, H, W]: number[], [, , K]: number[], op: Extract<Node["op"], { kind: "im2col" }>, out: string): void => {
    const [[kh, kw], [sh, sw], [ph, pw]] = [op.kernel, op.stride, op.padding];
    const oh = Math.floor((H + 2 * ph - kh) / sh) + 1;
    const ow = Math.floor((W + 2 * pw - kw) / sw) + 1;
    const padded = ph || pw ? emit("Pad", [x, ints64([0, 0, ph, pw, 0, 0, ph, pw]), scalar(0)]) : x;
    const taps: string[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const tap = emit("Slice", [
          padded,
          ints64([i, j]),
          ints64([i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1]),
          ints64([2, 3]),
          ints64([sh, sw]),
        ]);
        taps.push(emit("Unsqueeze", [tap, ints64([2])]));
      }
    }
    const stacked = emit("Reshape", [emit("Concat", taps, [{ name: "axis", type: ATTR.INT, i: 2 }]), ints64([B, C * kh * kw, oh * ow])]);
    if (K !== C * kh * kw) throw new OnnxExportError(`im2col: ${K} columns, expected ${C * kh * kw}`);
    emit("Transpose", [stacked], [{ name: "perm", type: ATTR.INTS, ints: [0, 2, 1] }], out);
  };

  /** softmax(q k^T * scale + bias) v per head, the bias masking other segments, later keys, or adding relative positions. */
  const attention = (n: Node, ins: string[], op: Extract<Node["op"], { kind: "attention" }>, out: string): void => {
    const [B, T, D] = shapeOf(n);
    const S = shapeOf(g.nodes[n.inputs[1]])[1];
    const dh = D / op.heads;
    const heads = (x: string, len: number, perm: number[]): string => transpose(emit("Reshape", [x, ints64([B, len, op.heads, dh])]), perm);
    const q = emit("Mul", [heads(ins[0], T, [0, 2, 1, 3]), scalar(op.scale)]);
    let logits = emit("MatMul", [q, heads(ins[1], S, [0, 2, 3, 1])]);
    if (op.causal) {
      const mask = new Float32Array(T * S);
      for (let t = 0; t < T; t++) for (let k = t + 1; k < S; k++) mask[t * S + k] = -Infinity;
      logits = emit("Add", [logits, floats(tmp(), [T, S], mask)]);
    }
    if (op.segmented) {
      // Each token's segment: how many boundaries (after the first) lie at or before it.
      const positions = emit("Range", [ints64Scalar(0), ints64Scalar(T), ints64Scalar(1)]);
      const boundaries = emit(
        "Cast",
        [emit("Slice", [ins[3], ints64([1]), ints64([Number.MAX_SAFE_INTEGER]), ints64([0])])],
        [{ name: "to", type: ATTR.INT, i: INT64 }],
      );
      const passed = emit("GreaterOrEqual", [emit("Unsqueeze", [positions, ints64([1])]), emit("Unsqueeze", [boundaries, ints64([0])])]);
      const segment = emit(
        "ReduceSum",
        [emit("Cast", [passed], [{ name: "to", type: ATTR.INT, i: FLOAT }]), ints64([1])],
        [{ name: "keepdims", type: ATTR.INT, i: 0 }],
      );
      const same = emit("Equal", [emit("Unsqueeze", [segment, ints64([1])]), emit("Unsqueeze", [segment, ints64([0])])]);
      logits = emit("Add", [logits, emit("Where", [same, scalar(0), scalar(-Infinity)])]);
    }
    if (op.relative) {
      // rowBias[b, t, h·KH + s / KW] + colBias[b, t, h·KW + s % KW], keys laid out KH x KW.
      const [rowIn, colIn] = ins.slice(-2);
      const kh = shapeOf(g.nodes[n.inputs[n.inputs.length - 2]])[2] / op.heads;
      const kw = shapeOf(g.nodes[n.inputs[n.inputs.length - 1]])[2] / op.heads;
      const rows = emit("Unsqueeze", [transpose(emit("Reshape", [rowIn, ints64([B, T, op.heads, kh])]), [0, 2, 1, 3]), ints64([4])]);
      const cols = emit("Unsqueeze", [transpose(emit("Reshape", [colIn, ints64([B, T, op.heads, kw])]), [0, 2, 1, 3]), ints64([3])]);
      logits = emit("Add", [logits, emit("Reshape", [emit("Add", [rows, cols]), ints64([B, op.heads, T, S])])]);
    }
    const p = emit("Softmax", [logits], [{ name: "axis", type: ATTR.INT, i: -1 }]);
    const o = transpose(emit("MatMul", [p, heads(ins[2], S, [0, 2, 1, 3])]), [0, 2, 1, 3]);
    emit("Reshape", [o, ints64([B, T, D])], [], out);
  };

  for (const n of g.nodes) {
    const out = name(n.id);
    const ins = n.inputs.map(name);
    const op = n.op;
    switch (op.kind) {
      case "input":
        inputs.push({ name: op.name, dtype: n.dtype === "i32" ? INT32 : FLOAT, shape: shapeOf(n) });
        emit("Identity", [op.name], [], out);
        break;
      case "param": {
        const t = weights.get(op.name);
        if (!t) throw new OnnxExportError(`no weight '${op.name}' to export`);
        const [start, end] = op.rows ?? [0, t.shape[0] ?? 1];
        const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
        floats(out, shapeOf(n), t.data.subarray(start * rowSize, end * rowSize));
        break;
      }
      case "const":
        floats(out, [], Float32Array.of(op.value));
        break;
      case "unary": {
        const [first, second] = UNARY[op.fn];
        if (second) emit(second, [emit(first, ins)], [], out);
        else emit(first, ins, [], out);
        break;
      }
      case "binary":
        emit(BINARY[op.fn], ins, [], out);
        break;
      case "reduce":
        emit(
          { sum: "ReduceSum", mean: "ReduceMean", max: "ReduceMax" }[op.fn],
          [ins[0], ints64([op.axis])],
          [{ name: "keepdims", type: ATTR.INT, i: 1 }],
          out,
        );
        break;
      case "matmul": {
        const rank = g.nodes[n.inputs[1]].shape.length;
        const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
        emit("MatMul", [ins[0], emit("Transpose", [ins[1]], [{ name: "perm", type: ATTR.INTS, ints: perm }])], [], out);
        break;
      }
      case "reshape":
        emit("Reshape", [ins[0], ints64(shapeOf(n))], [], out);
        break;
      case "contiguous":
        emit("Identity", ins, [], out);
        break;
      case "permute":
        emit("Transpose", ins, [{ name: "perm", type: ATTR.INTS, ints: op.perm }], out);
        break;
      case "slice": {
        const start = evalDim(op.start, env);
        emit("Slice", [ins[0], ints64([start]), ints64([start + shapeOf(n)[op.axis]]), ints64([op.axis])], [], out);
        break;
      }
      case "concat":
        emit("Concat", ins, [{ name: "axis", type: ATTR.INT, i: op.axis }], out);
        break;
      case "broadcast":
        emit("Expand", [ins[0], ints64(shapeOf(n))], [], out);
        break;
      case "gather":
        emit("Gather", ins, [{ name: "axis", type: ATTR.INT, i: op.axis }], out);
        break;
      case "pad": {
        const rank = n.shape.length;
        const after = shapeOf(n)[op.axis] - shapeOf(g.nodes[n.inputs[0]])[op.axis] - op.before;
        const pads = new Array<number>(2 * rank).fill(0);
        [pads[op.axis], pads[rank + op.axis]] = [op.before, after];
        emit("Pad", [ins[0], ints64(pads), floats(tmp(), [], Float32Array.of(op.value))], [], out);
        break;
      }
      case "im2col":
        im2col(ins[0], shapeOf(g.nodes[n.inputs[0]]), shapeOf(n), op, out);
        break;
      case "resize2d": {
        const mode = { name: "mode", type: ATTR.STRING, s: utf8(op.mode === "bilinear" ? "linear" : "cubic") };
        // torch's interpolate(align_corners=False) at a given size: "pytorch_half_pixel"; A = -0.75 is ONNX's default too.
        const coordinates = { name: "coordinate_transformation_mode", type: ATTR.STRING, s: utf8("pytorch_half_pixel") };
        // torch renormalises an antialiasing filter over the taps inside the image: exclude_outside.
        const attributes = [
          mode,
          coordinates,
          // torch's antialiased bicubic uses A = -0.5 (PIL's); without antialias, -0.75.
          { name: "cubic_coeff_a", type: ATTR.FLOAT, f: op.antialias ? -0.5 : -0.75 },
          { name: "antialias", type: ATTR.INT, i: op.antialias ? 1 : 0 },
          { name: "exclude_outside", type: ATTR.INT, i: op.antialias ? 1 : 0 },
        ];
        // ONNX Runtime resizes 4-D tensors (the outer two axes kept): the leading axes fold into one.
        const [inShape, outShape] = [shapeOf(g.nodes[n.inputs[0]]), shapeOf(n)];
        const lead = inShape.slice(0, -2).reduce((a, b) => a * b, 1);
        const x4 = emit("Reshape", [ins[0], ints64([1, lead, ...inShape.slice(-2)])]);
        const y4 = emit("Resize", [x4, "", "", ints64([1, lead, ...outShape.slice(-2)])], attributes);
        emit("Reshape", [y4, ints64(outShape)], [], out);
        break;
      }
      case "attention":
        attention(n, ins, op, out);
        break;
      default: {
        const unwritten: never = op;
        throw new OnnxExportError(`the ONNX exporter does not write '${(unwritten as { kind: string }).kind}' (node %${n.id})`);
      }
    }
  }

  const valueInfo = (n: string, dtype: number, shape: number[]): object => ({
    name: n,
    type: { tensor_type: { elem_type: dtype, shape: { dim: shape.map((d) => ({ dim_value: d })) } } },
  });
  const outputs = g.outputs.map((o) => {
    emit("Identity", [name(o.node)], [], o.name);
    return valueInfo(o.name, FLOAT, shapeOf(g.nodes[o.node]));
  });
  const Model = schema().lookupType("onnx.ModelProto");
  const model = Model.fromObject({
    ir_version: 8,
    producer_name: "tesserae",
    opset_import: [{ domain: "", version: OPSET }],
    graph: {
      name: g.name,
      node: nodes,
      initializer: initializers,
      input: inputs.map((i) => valueInfo(i.name, i.dtype, i.shape)),
      output: outputs,
    },
  });
  return Model.encode(model).finish();
}
