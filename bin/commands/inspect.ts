import { printGraph } from "../../compiler/ir/printer.ts";
import { graphAfter } from "../../compiler/compile.ts";
import { one, parseArgs } from "../args.ts";
import { compileFromArgs, MODEL_FLAGS, requireGraph } from "../load.ts";
import { io } from "../io.ts";

/** `tesserae check`: parse, elaborate and compile; report what the graph holds. */
export async function checkCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: MODEL_FLAGS, repeatable: ["set"] }, "check");
  const graphPath = requireGraph(args, "check");
  const c = compileFromArgs(graphPath, args);
  const count = c.weights.reduce((a, w) => a + w.shape.reduce<number>((x, d) => x * Number(d), 1), 0);
  const inputs = c.inputs.map((i) => `${i.name}${JSON.stringify(i.shape.map((d) => (typeof d === "number" ? d : "?")))}`).join(", ");
  const prepared = c.plan.prepare ? ` (and ${c.plan.prepare.kernels.length} run once at load, deriving weights)` : "";
  io().out.write(
    `${graphPath}: ok: model ${c.name}, inputs ${inputs}, outputs ${c.outputs.map((o) => o.name).join(", ")}, ` +
      `${c.plan.graph.nodes.length} primitive ops, ${c.weights.length} weight tensors (${count.toLocaleString("en-US")} parameters), ${c.kernels.length} kernels${prepared}\n`,
  );
  return 0;
}

/** `tesserae ir`: the graph IR after elaboration, or after a step of the compile (`--after STEP`), one primitive per line. */
export async function irCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: [...MODEL_FLAGS, "after"], repeatable: ["set"], switches: ["no-fuse"] }, "ir");
  const { program } = compileFromArgs(requireGraph(args, "ir"), args);
  const after = one(args, "after");
  const graph = after === undefined ? program.graph : graphAfter(program.graph, after, !args.switches.has("no-fuse"));
  io().out.write(`${printGraph(graph)}\n`);
  return 0;
}
