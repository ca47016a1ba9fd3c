import { consumersOf, type Graph, type Node } from "../../core/graph.ts";

/**
 * A parameter read only through slices of its first axis (Qwen-VL's packed q/k/v projection,
 * [3 x 4096, 4096], 192 MiB) becomes one parameter per slice, each holding only its rows: every part
 * then fits a storage binding (128 MiB on lavapipe) and no rows are uploaded that nothing reads.
 */
export function splitSlicedParams(g: Graph): Graph {
  const consumers = consumersOf(g);
  const sliceRows = new Map<number, [number, number]>();
  for (const n of g.nodes) {
    if (n.op.kind !== "param" || n.op.rows || consumers[n.id].length === 0) continue;
    const slices = consumers[n.id].map((c) => g.nodes[c]);
    if (!slices.every((s) => s.op.kind === "slice" && s.op.axis === 0 && typeof s.op.start === "number" && typeof s.shape[0] === "number"))
      continue;
    for (const s of slices)
      if (s.op.kind === "slice") sliceRows.set(s.id, [s.op.start as number, (s.op.start as number) + (s.shape[0] as number)]);
  }
  if (sliceRows.size === 0) return g;
  const nodes: Node[] = g.nodes.map((n) => {
    const rows = sliceRows.get(n.id);
    const source = g.nodes[n.inputs[0]];
    if (!rows || source.op.kind !== "param") return n;
    return { ...n, op: { kind: "param", name: source.op.name, rows }, inputs: [] };
  });
  return { ...g, nodes };
}
