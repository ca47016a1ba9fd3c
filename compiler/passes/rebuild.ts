import type { GraphBuilder } from "../ir/builder.ts";
import type { Graph, Node } from "../../core/graph.ts";

/**
 * Copies a graph into `b` node by node, in an order that respects dependencies even when a rewrite
 * moves nodes around. `rewrite` may emit replacement nodes itself (returning true, after recording in
 * `replaced` what old node each new one stands for); otherwise the node is copied. Params are placed
 * first, since a rewrite may need any of them early.
 */
export function rebuild(
  g: Graph,
  b: GraphBuilder,
  replaced: Map<number, number>,
  rewrite: (n: Node, map: (old: number) => number) => boolean,
): Graph {
  const done = new Map<number, number>();
  const map = (old: number): number => {
    const r = replaced.get(old) ?? done.get(old);
    if (r === undefined) throw new Error(`internal: rebuild reached %${old} before it was built`);
    return r;
  };
  const ordered = [...g.nodes.filter((n) => n.op.kind === "param"), ...g.nodes.filter((n) => n.op.kind !== "param")];
  for (const n of ordered) {
    if (replaced.has(n.id)) continue;
    if (rewrite(n, map)) continue;
    const inputs = n.inputs.map(map);
    const id = b.graph.nodes.length;
    b.graph.nodes.push({ ...n, id, inputs });
    done.set(n.id, id);
    if (n.op.kind === "input") b.graph.inputs.push({ name: n.op.name, node: id });
  }
  for (const o of g.outputs) b.graph.outputs.push({ name: o.name, node: map(o.node) });
  return b.graph;
}
