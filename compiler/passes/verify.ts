import { dimAdd, dimsEqual, shapeToString, type Dim } from "../../core/dims.ts";
import type { Graph, Node } from "../../core/graph.ts";
import { GraphBuilder } from "../ir/builder.ts";

/** A pass broke an invariant of the graph IR: a bug in that pass, named in the message. */
export class GraphInvariantError extends Error {}

const DTYPES = new Set(["f32", "f16", "i32"]);

/**
 * The builder's node for `n`, its shape inferred from its inputs (already rebuilt: `built` maps the
 * graph's ids to the builder's) and, for views given a target, from its own.
 */
function rebuilt(b: GraphBuilder, g: Graph, n: Node, built: readonly number[]): number {
  const x = n.inputs.map((i) => built[i]);
  const op = n.op;
  const inShape = (k: number): Dim[] => g.nodes[n.inputs[k]].shape;
  let id: number;
  switch (op.kind) {
    case "input":
    case "param":
    case "const":
      return b.input(`%${n.id}`, n.shape, n.dtype);
    case "unary":
      id = b.unary(op.fn, x[0]);
      break;
    case "binary":
      id = b.binary(op.fn, x[0], x[1]);
      break;
    case "reduce":
      id = b.reduce(op.fn, x[0], op.axis);
      break;
    case "matmul":
      id = b.matmul(x[0], x[1]);
      break;
    case "contiguous":
      id = b.contiguous(x[0]);
      break;
    case "reshape":
      id = b.reshape(x[0], n.shape);
      break;
    case "permute":
      id = b.permute(x[0], op.perm);
      break;
    case "slice":
      id = b.slice(x[0], op.axis, op.start, dimAdd(op.start, n.shape[op.axis]));
      break;
    case "concat":
      id = b.concat(x, op.axis);
      break;
    case "broadcast":
      id = b.broadcastTo(x[0], n.shape);
      break;
    case "im2col":
      id = b.im2col(x[0], op.kernel, op.stride, op.padding);
      break;
    case "pad": {
      const grown = n.shape[op.axis];
      const after =
        typeof grown === "number" && typeof inShape(0)[op.axis] === "number" ? grown - (inShape(0)[op.axis] as number) - op.before : 0;
      id = b.pad(x[0], op.axis, op.before, after, op.value);
      break;
    }
    case "resize2d":
      id = b.resize2d(x[0], n.shape[n.shape.length - 2], n.shape[n.shape.length - 1], op.mode, op.antialias);
      break;
    case "gather":
      id = b.gather(x[0], op.axis, x[1]);
      break;
    case "attention": {
      const extra = x.slice(3);
      const segments = op.segmented ? (extra.shift() ?? null) : null;
      const relative: [number, number] | null = op.relative ? [extra[0], extra[1]] : null;
      id = b.attention(x[0], x[1], x[2], op.heads, op.scale, segments, op.causal, relative);
      break;
    }
  }
  return id;
}

/**
 * Checks the invariants every pass must keep: nodes numbered in order and reading only earlier ones,
 * inputs and outputs that exist, known dtypes, and every shape what its op gives for its inputs.
 */
export function verifyGraph(g: Graph, after: string): void {
  const fail = (what: string): never => {
    throw new GraphInvariantError(`internal: after pass '${after}', graph '${g.name}': ${what}`);
  };
  const b = new GraphBuilder(`verify ${g.name}`);
  const built: number[] = [];
  g.nodes.forEach((n, i) => {
    if (n.id !== i) fail(`node at index ${i} has id %${n.id}`);
    for (const input of n.inputs)
      if (!(input >= 0 && input < i)) fail(`%${i} (${n.op.kind}) reads %${input}, which is not an earlier node`);
    if (!DTYPES.has(n.dtype)) fail(`%${i} (${n.op.kind}) has dtype '${n.dtype}'`);
    let shape: readonly Dim[];
    try {
      built.push(rebuilt(b, g, n, built));
      shape = b.node(built[i]).shape;
    } catch (e) {
      return fail(`%${i} (${n.op.kind}) does not fit its inputs: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (shape.length !== n.shape.length || shape.some((d, k) => !dimsEqual(d, n.shape[k]))) {
      fail(`%${i} (${n.op.kind}) has shape ${shapeToString(n.shape)}, but its inputs give ${shapeToString(shape)}`);
    }
    if (n.op.kind === "matmul" && n.op.storedKN) {
      const view = g.nodes[n.inputs[1]];
      const columns = view.shape[0];
      if (
        view.op.kind !== "permute" ||
        view.op.perm[0] !== 1 ||
        view.shape.length !== 2 ||
        typeof columns !== "number" ||
        columns % 4 !== 0
      ) {
        fail(
          `%${i} (matmul) is marked as reading weights stored [K, N], but its B (%${view.id}) is not a transposed 2-D view with N a multiple of 4`,
        );
      }
    }
  });
  for (const { name, node } of g.inputs)
    if (g.nodes[node]?.op.kind !== "input") fail(`graph input '${name}' points at %${node}, not an input node`);
  const names = new Set<string>();
  for (const { name, node } of g.outputs) {
    if (!g.nodes[node]) fail(`output '${name}' points at %${node}, which does not exist`);
    if (names.has(name)) fail(`output '${name}' is listed twice`);
    names.add(name);
  }
}
