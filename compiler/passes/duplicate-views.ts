import { GraphBuilder } from "../ir/builder.ts";
import { consumersOf, isMovement, type Graph, type Node } from "../../core/graph.ts";
import { rebuild } from "./rebuild.ts";

/**
 * A gathered view of inputs or parameters (the rotary tables in window order) read by several kernels is
 * copied for each reader, so every reader folds it into its loads and no kernel writes it out.
 */
export function duplicateSharedViews(g: Graph): Graph {
  const consumers = consumersOf(g);
  const pureView: boolean[] = [];
  for (const n of g.nodes) {
    pureView[n.id] =
      isMovement(n) &&
      n.inputs.every((i) => {
        const k = g.nodes[i].op.kind;
        return k === "input" || k === "param" || pureView[i];
      });
  }
  // Only views through a gather: other views of buffers fold wherever their one reader is, and their
  // identity matters to the passes that follow (a normalised input read by its statistics and its matmul).
  const gathered: boolean[] = [];
  for (const n of g.nodes) gathered[n.id] = pureView[n.id] && (n.op.kind === "gather" || n.inputs.some((i) => gathered[i]));
  const shared = (id: number): boolean => gathered[id] && consumers[id].length > 1 && !g.outputs.some((o) => o.node === id);
  if (!g.nodes.some((n) => shared(n.id))) return g;

  const b = new GraphBuilder(g.name);
  const replaced = new Map<number, number>();
  return rebuild(g, b, replaced, (n, map) => {
    // Built per reader below: one copy for each.
    if (shared(n.id)) return true;
    if (!n.inputs.some(shared)) return false;
    const inputs = n.inputs.map((i) => (shared(i) ? cloneView(g, b, g.nodes[i], map) : map(i)));
    const id = b.graph.nodes.length;
    b.graph.nodes.push({ ...n, id, inputs });
    replaced.set(n.id, id);
    if (n.op.kind === "input") b.graph.inputs.push({ name: n.op.name, node: id });
    return true;
  });
}

/** A fresh copy of a view chain down to its buffers. */
function cloneView(g: Graph, b: GraphBuilder, n: Node, map: (old: number) => number): number {
  const inputs = n.inputs.map((i) => {
    const k = g.nodes[i].op.kind;
    return k === "input" || k === "param" ? map(i) : cloneView(g, b, g.nodes[i], map);
  });
  const id = b.graph.nodes.length;
  b.graph.nodes.push({ ...n, id, inputs });
  return id;
}
