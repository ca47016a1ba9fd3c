import { GraphBuilder } from "../ir/builder.ts";
import { consumersOf, type Graph, type Node } from "../../core/graph.ts";
import { rebuild } from "./rebuild.ts";

/**
 * A gather of rows after a linear layer, gather(act(x W^T + b), rows), becomes act(gather(x, rows) W^T + b):
 * each row of a matmul's output depends on the same row of its input only, so picking rows commutes
 * with it, and the gather becomes a view folded into the matmul's loads of x instead of a kernel of its
 * own (Qwen2.5-VL's merger output put back from window order).
 */
export function pushGathersIntoMatmuls(g: Graph): Graph {
  const consumers = consumersOf(g);
  const plans = new Map<number, { matmul: number; chain: Set<number> }>();
  for (const n of g.nodes) {
    if (n.op.kind !== "gather") continue;
    const x = g.nodes[n.inputs[0]];
    if (n.op.axis !== x.shape.length - 2) continue;
    const chain = new Set<number>();
    let matmul: number | null = null;
    // The elementwise tree between the matmul and the gather; every other operand is the same for all rows.
    const walk = (id: number): boolean => {
      const m = g.nodes[id];
      if (chain.has(id) || matmul === id) return true;
      if (m.op.kind === "matmul") {
        if (matmul !== null || g.nodes[m.inputs[0]].shape.length !== m.shape.length) return false;
        matmul = id;
        return true;
      }
      if (m.op.kind !== "unary" && m.op.kind !== "binary") return false;
      chain.add(id);
      return m.inputs.every((i) => {
        const s = g.nodes[i].shape;
        // Broadcasting aligns the last axes: the row axis is second to last.
        const rowInvariant = s.length < 2 || s[s.length - 2] === 1;
        return rowInvariant || walk(i);
      });
    };
    // Nothing between the matmul and the gather may be used elsewhere, or it would be computed twice.
    const inside = (id: number): boolean => consumers[id].every((c) => c === n.id || chain.has(c));
    if (walk(x.id) && matmul !== null && inside(matmul) && [...chain].every(inside)) plans.set(n.id, { matmul, chain });
  }
  if (plans.size === 0) return g;

  const b = new GraphBuilder(g.name);
  const replaced = new Map<number, number>();
  const skip = new Set([...plans.values()].flatMap((p) => [p.matmul, ...p.chain]));
  return rebuild(g, b, replaced, (n, map) => {
    const plan = plans.get(n.id);
    if (!plan) return skip.has(n.id);
    b.source = n.source;
    const mm = g.nodes[plan.matmul];
    const rows = b.gather(map(mm.inputs[0]), g.nodes[mm.inputs[0]].shape.length - 2, map(n.inputs[1]));
    const built = new Map<number, number>([[mm.id, b.matmul(rows, map(mm.inputs[1]))]]);
    const build = (id: number): number => {
      const hit = built.get(id);
      if (hit !== undefined) return hit;
      if (!plan.chain.has(id)) return map(id);
      const m: Node = g.nodes[id];
      b.source = m.source;
      const inputs = m.inputs.map(build);
      const out =
        m.op.kind === "unary" ? b.unary(m.op.fn, inputs[0]) : m.op.kind === "binary" ? b.binary(m.op.fn, inputs[0], inputs[1]) : -1;
      built.set(id, out);
      return out;
    };
    replaced.set(n.id, build(n.inputs[0]));
    return true;
  });
}
