import type { Program } from "../../core/program.ts";
import { UsageError } from "../../core/errors.ts";
import { eliminateDeadCode } from "./dce.ts";
import type { Dim } from "../../core/dims.ts";

const symbolNames = (d: Dim): string[] =>
  typeof d === "number" ? [] : d.op === "sym" ? [d.name] : [...symbolNames(d.a), ...symbolNames(d.b)];

/**
 * The program cut down to some of its outputs: the nodes, inputs and computed inputs those outputs do
 * not depend on are dropped, so a contrastive graph's image tower runs without texts and its text tower
 * without images.
 */
export function selectOutputs(program: Program, names: readonly string[]): Program {
  const g = program.graph;
  const unknown = names.filter((n) => !g.outputs.some((o) => o.name === n));
  if (unknown.length > 0)
    throw new UsageError(
      `${program.name} has no output ${unknown.map((n) => `'${n}'`).join(", ")} (its outputs: ${g.outputs.map((o) => o.name).join(", ")})`,
    );
  if (names.length === 0) throw new UsageError(`${program.name}: select at least one output`);
  const outputs = g.outputs.filter((o) => names.includes(o.name));
  const needed = new Set<number>();
  const stack = outputs.map((o) => o.node);
  while (stack.length) {
    const id = stack.pop() as number;
    if (needed.has(id)) continue;
    needed.add(id);
    stack.push(...g.nodes[id].inputs);
  }
  const inputs = g.inputs.filter((i) => needed.has(i.node));
  const graph = eliminateDeadCode({ ...g, inputs, outputs });
  const kept = new Set(inputs.map((i) => i.name));
  const bound = new Set(graph.inputs.flatMap((i) => graph.nodes[i.node].shape.flatMap(symbolNames)));
  const symbols = program.symbols.filter((s) => bound.has(s));
  return { ...program, graph, symbols, providers: program.providers.filter((p) => kept.has(p.input)) };
}
