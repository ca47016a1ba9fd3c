import { GraphBuilder } from "../ir/builder.ts";
import { INLINE_MAX_K } from "../fusion/limits.ts";
import { consumersOf, isElementwise, type Graph } from "../../core/graph.ts";
import { parameterOnly } from "./fold-norms.ts";
import { rebuild } from "./rebuild.ts";

/**
 * Weights of linear layers stored [in, out] on the device: matmul_nt(x, W) reads W through a transposed
 * view of a copy made once at load time, so the matmul kernel loads four consecutive output columns of
 * one input row as one vector. Only where the output width is a multiple of 4 (the vector width).
 */
export function transposeWeights(g: Graph): Graph {
  const fixed = parameterOnly(g);
  const consumers = consumersOf(g);
  // A small contraction concatenated behind a class token becomes a dot-product loop per output inside
  // the consuming kernel (fusion's inlining), which reads each output's weights along K: keep [out, in].
  const reachesConcat = (id: number): boolean =>
    consumers[id].some((c) => g.nodes[c].op.kind === "concat" || (isElementwise(g.nodes[c]) && reachesConcat(c)));
  const eligible = new Set(
    g.nodes
      .filter((n) => {
        if (n.op.kind !== "matmul" || !fixed[n.inputs[1]] || fixed[n.inputs[0]]) return false;
        const w = g.nodes[n.inputs[1]];
        if (w.shape.length !== 2 || w.op.kind === "contiguous") return false;
        const [out, inner] = w.shape;
        if (typeof out !== "number" || typeof inner !== "number" || out % 4 !== 0) return false;
        return inner > INLINE_MAX_K || !reachesConcat(n.id);
      })
      .map((n) => n.id),
  );
  if (eligible.size === 0) return g;
  const b = new GraphBuilder(g.name);
  const replaced = new Map<number, number>();
  const stored = new Map<number, number>();
  return rebuild(g, b, replaced, (n, map) => {
    if (!eligible.has(n.id)) return false;
    b.source = n.source;
    const w = n.inputs[1];
    let t = stored.get(w);
    if (t === undefined) {
      t = b.contiguous(b.permute(map(w), [1, 0]));
      stored.set(w, t);
    }
    replaced.set(n.id, b.matmul(map(n.inputs[0]), b.permute(t, [1, 0])));
    return true;
  });
}
