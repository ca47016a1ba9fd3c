import { shapeToString } from "../../core/dims.ts";
import type { Graph, Node } from "../../core/graph.ts";

function opText(n: Node): string {
  const op = n.op;
  switch (op.kind) {
    case "input":
      return `input "${op.name}"`;
    case "param":
      return `param "${op.name}"${op.rows ? ` rows ${op.rows[0]}:${op.rows[1]}` : ""}`;
    case "const":
      return `const ${op.value}`;
    case "unary":
    case "binary":
      return op.fn;
    case "reduce":
      return `reduce_${op.fn} axis=${op.axis}`;
    case "permute":
      return `permute [${op.perm.join(",")}]`;
    case "slice":
      return `slice axis=${op.axis} start=${String(op.start)}`;
    case "concat":
      return `concat axis=${op.axis}`;
    case "gather":
      return `gather axis=${op.axis}`;
    case "resize2d":
      return `resize2d ${op.mode}${op.antialias ? " antialias" : ""}`;
    case "im2col":
      return `im2col kernel=${op.kernel.join("x")} stride=${op.stride.join("x")} padding=${op.padding.join("x")}`;
    case "pad":
      return `pad axis=${op.axis} before=${op.before} value=${op.value}`;
    case "attention":
      return `attention heads=${op.heads} scale=${op.scale.toPrecision(6)}`;
    case "matmul":
      return op.storedKN ? "matmul stored-kn" : "matmul";
    default:
      return op.kind;
  }
}

/** One line per node: `%id = op(%inputs) : f32[shape]   # file:line`. */
export function printGraph(g: Graph): string {
  const lines = [`graph ${g.name} (${g.nodes.length} nodes)`];
  for (const n of g.nodes) {
    const args = n.inputs.length ? `(${n.inputs.map((i) => `%${i}`).join(", ")})` : "";
    const src = n.source.at(-1);
    const where = src ? `  # ${src.file}:${src.line}` : "";
    lines.push(`  %${n.id} = ${opText(n)}${args} : ${n.dtype}${shapeToString(n.shape)}${where}`);
  }
  for (const o of g.outputs) lines.push(`  output ${o.name} = %${o.node}`);
  return lines.join("\n");
}
