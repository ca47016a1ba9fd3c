import { compileProgram } from "../../compiler/compile.ts";
import { printGraph } from "../../compiler/ir/printer.ts";
import { eliminateDeadCode } from "../../compiler/passes/dce.ts";
import { parseArgs } from "../args.ts";
import { loadModel, MODEL_FLAGS, requireGraph } from "../load.ts";

/** `tesserae check`: parse, elaborate and compile; report what the graph holds. */
export async function checkCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: MODEL_FLAGS, repeatable: ["set"] }, "check");
  const graphPath = requireGraph(args, "check");
  const { program } = loadModel(graphPath, args);
  const plan = compileProgram(program);
  const params = eliminateDeadCode(program.graph).nodes.filter((n) => n.op.kind === "param");
  const count = params.reduce((a, n) => a + n.shape.reduce<number>((x, d) => x * (d as number), 1), 0);
  const inputs = program.graph.inputs.map((i) => `${i.name}${JSON.stringify(program.graph.nodes[i.node].shape.map((d) => (typeof d === "number" ? d : "?")))}`).join(", ");
  process.stdout.write(`${graphPath}: ok: model ${program.name}, inputs ${inputs}, outputs ${program.graph.outputs.map((o) => o.name).join(", ")}, ` +
    `${plan.graph.nodes.length} primitive ops, ${params.length} weight tensors (${count.toLocaleString("en-US")} parameters), ${plan.kernels.length} kernels${plan.prepare ? ` (and ${plan.prepare.kernels.length} run once at load, deriving weights)` : ""}\n`);
  return 0;
}

/** `tesserae ir`: the graph IR after elaboration, one primitive per line. */
export async function irCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: MODEL_FLAGS, repeatable: ["set"] }, "ir");
  const graphPath = requireGraph(args, "ir");
  const { program } = loadModel(graphPath, args);
  process.stdout.write(printGraph(program.graph) + "\n");
  return 0;
}
