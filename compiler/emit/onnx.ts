import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { evalDim, type DimEnv } from "../ir/dims.ts";
import type { BinaryFn, Graph, Node, UnaryFn } from "../ir/graph.ts";

/** A graph that uses an operation the exporter does not write. */
export class OnnxExportError extends Error {}

/** Host tensors by parameter name, as the exporter needs them (f32 data, row-major). */
export interface ExportWeights {
  get(name: string): { shape: number[]; data: Float32Array } | undefined;
}

const OPSET = 17;
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const ATTR = { INT: 2, INTS: 7 } as const;

const UNARY: Record<UnaryFn, string[]> = {
  neg: ["Neg"], exp: ["Exp"], log: ["Log"], sqrt: ["Sqrt"], rsqrt: ["Sqrt", "Reciprocal"], tanh: ["Tanh"], erf: ["Erf"],
  sigmoid: ["Sigmoid"], recip: ["Reciprocal"], abs: ["Abs"], relu: ["Relu"],
};
const BINARY: Record<BinaryFn, string> = { add: "Add", sub: "Sub", mul: "Mul", div: "Div", max: "Max", min: "Min", pow: "Pow" };

let types: protobuf.Root | undefined;
// keepCase: the field names stay as onnx.proto spells them (opset_import, not opsetImport).
const schema = (): protobuf.Root => (types ??= protobuf.parse(readFileSync(new URL("./onnx.proto", import.meta.url), "utf8"), { keepCase: true }).root);

interface Attribute { name: string; type: number; f?: number; i?: number; ints?: number[] }
interface OnnxNode { input: string[]; output: string[]; name: string; op_type: string; attribute: Attribute[] }
interface Initializer { name: string; dims: number[]; data_type: number; raw_data: Uint8Array }

/**
 * The graph as an ONNX model (opset 17) with its weights as initializers, every symbolic dim evaluated
 * with `env` (e.g. B = 1): what the peers (ONNX Runtime CPU and WebGPU) run in the benchmarks.
 * Views become Reshape / Transpose / Slice / Concat / Expand / Gather / Pad, matmul_nt a Transpose and
 * MatMul, attention the usual MatMul-Softmax-MatMul with heads split out.
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
  const floats = (n: string, shape: number[], data: Float32Array): string => {
    initializers.push({ name: n, dims: shape, data_type: FLOAT, raw_data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return n;
  };
  const inputs: { name: string; dtype: number; shape: number[] }[] = [];

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
        if (op.fn === "sum") emit("ReduceSum", [ins[0], ints64([op.axis])], [{ name: "keepdims", type: ATTR.INT, i: 1 }], out);
        else emit(op.fn === "mean" ? "ReduceMean" : "ReduceMax", ins, [{ name: "axes", type: ATTR.INTS, ints: [op.axis] }, { name: "keepdims", type: ATTR.INT, i: 1 }], out);
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
      case "attention": {
        if (op.segmented || op.causal || op.relative) throw new OnnxExportError("attention with segments, a causal mask or relative biases is not exported yet");
        const [B, T, D] = shapeOf(n);
        const S = shapeOf(g.nodes[n.inputs[1]])[1];
        const dh = D / op.heads;
        const heads = (x: string, len: number, perm: number[]): string => emit("Transpose", [emit("Reshape", [x, ints64([B, len, op.heads, dh])])], [{ name: "perm", type: ATTR.INTS, ints: perm }]);
        const q = emit("Mul", [heads(ins[0], T, [0, 2, 1, 3]), floats(tmp(), [], Float32Array.of(op.scale))]);
        const p = emit("Softmax", [emit("MatMul", [q, heads(ins[1], S, [0, 2, 3, 1])])], [{ name: "axis", type: ATTR.INT, i: -1 }]);
        const o = emit("Transpose", [emit("MatMul", [p, heads(ins[2], S, [0, 2, 1, 3])])], [{ name: "perm", type: ATTR.INTS, ints: [0, 2, 1, 3] }]);
        emit("Reshape", [o, ints64([B, T, D])], [], out);
        break;
      }
      default:
        throw new OnnxExportError(`the ONNX exporter does not write '${op.kind}' yet (node %${n.id})`);
    }
  }

  const valueInfo = (n: string, dtype: number, shape: number[]): object => ({ name: n, type: { tensor_type: { elem_type: dtype, shape: { dim: shape.map((d) => ({ dim_value: d })) } } } });
  const outputs = g.outputs.map((o) => {
    emit("Identity", [name(o.node)], [], o.name);
    return valueInfo(o.name, FLOAT, shapeOf(g.nodes[o.node]));
  });
  const Model = schema().lookupType("onnx.ModelProto");
  const model = Model.fromObject({
    ir_version: 8,
    producer_name: "tesserae",
    opset_import: [{ domain: "", version: OPSET }],
    graph: { name: g.name, node: nodes, initializer: initializers, input: inputs.map((i) => valueInfo(i.name, i.dtype, i.shape)), output: outputs },
  });
  return Model.encode(model).finish();
}
