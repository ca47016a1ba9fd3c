import { consumersOf, isMovement, type Graph, type Node } from "../../core/graph.ts";
import { eliminateDeadCode } from "./dce.ts";
import { parameterOnly } from "./fold-norms.ts";
import { PREPARED_PREFIX } from "../../core/plan.ts";

export interface PreparedSplit {
  /** The graph run for every input, with derived weights as parameters named PREPARED_PREFIX + i. */
  main: Graph;
  /** Computes the derived weights from the checkpoint's, once, when the weights are loaded; null when there are none. */
  prepare: Graph | null;
}

/**
 * Moves computations that depend on parameters only (folded normalisation gains, a position table
 * resized to the input grid) out of the per-input graph into a graph run once at load time. Views of
 * parameters stay: they cost nothing where they are.
 */
export function splitWeightPreparation(g: Graph): PreparedSplit {
  const fixed = parameterOnly(g);
  const consumers = consumersOf(g);
  // Fixed nodes the per-input graph reads: directly, or through views that stay in it.
  const readByMain: boolean[] = [];
  for (let id = g.nodes.length - 1; id >= 0; id--) {
    readByMain[id] =
      fixed[id] &&
      (g.outputs.some((o) => o.node === id) || consumers[id].some((c) => !fixed[c] || (isMovement(g.nodes[c]) && readByMain[c])));
  }
  const frontier = g.nodes.filter((n) => readByMain[n.id] && n.op.kind !== "param" && n.op.kind !== "const" && !isMovement(n));
  if (frontier.length === 0) return { main: g, prepare: null };

  const prepare: Graph = {
    name: `${g.name} (weight preparation)`,
    nodes: g.nodes,
    inputs: [],
    outputs: frontier.map((n, i) => ({ name: PREPARED_PREFIX + i, node: n.id })),
  };
  const asParam = new Map(frontier.map((n, i) => [n.id, PREPARED_PREFIX + i]));
  const nodes: Node[] = g.nodes.map((n) => {
    const name = asParam.get(n.id);
    return name === undefined ? n : { ...n, op: { kind: "param", name }, inputs: [] };
  });
  return { main: eliminateDeadCode({ ...g, nodes }), prepare: eliminateDeadCode(prepare) };
}
