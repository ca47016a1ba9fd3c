import type { Graph, Node } from "../../core/graph.ts";

/** Drops nodes no output depends on (and renumbers), so unused checkpoint tensors are never read. */
export function eliminateDeadCode(g: Graph): Graph {
  const live = new Set<number>();
  const stack = g.outputs.map((o) => o.node);
  while (stack.length) {
    const id = stack.pop() as number;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...g.nodes[id].inputs);
  }
  for (const i of g.inputs) live.add(i.node);
  const remap = new Map<number, number>();
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!live.has(n.id)) continue;
    remap.set(n.id, nodes.length);
    nodes.push({ ...n, id: nodes.length, inputs: n.inputs.map((i) => remap.get(i) as number) });
  }
  const at = (id: number): number => remap.get(id) as number;
  return {
    name: g.name,
    nodes,
    inputs: g.inputs.map((i) => ({ ...i, node: at(i.node) })),
    outputs: g.outputs.map((o) => ({ ...o, node: at(o.node) })),
  };
}
