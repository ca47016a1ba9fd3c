import { GraphBuilder } from "../ir/builder.ts";
import { dimAdd, dimsEqual, type Dim } from "../../core/dims.ts";
import { consumersOf, isElementwise, type Graph, type Node } from "../../core/graph.ts";
import { rebuild } from "./rebuild.ts";

/** One linear layer reading the shared input: matmul_nt(x, W) with W a parameter, and optionally + bias. */
interface Sibling {
  matmul: number;
  weight: number;
  /** The bias add, when the matmul's only consumer adds a 1-D parameter. */
  biasAdd: number | null;
  bias: number | null;
}

function asSibling(g: Graph, consumers: number[][], mm: Node, input: number): Sibling | null {
  if (mm.op.kind !== "matmul" || mm.inputs[0] !== input) return null;
  const w = g.nodes[mm.inputs[1]];
  if (w.op.kind !== "param" || w.shape.length !== 2) return null;
  const cons = consumers[mm.id];
  if (cons.length === 1) {
    const add = g.nodes[cons[0]];
    const other = add.inputs[0] === mm.id ? add.inputs[1] : add.inputs[0];
    const b = g.nodes[other];
    if (
      add.op.kind === "binary" &&
      add.op.fn === "add" &&
      add.inputs.includes(mm.id) &&
      b.op.kind === "param" &&
      b.shape.length === 1 &&
      dimsEqual(b.shape[0], w.shape[0])
    ) {
      return { matmul: mm.id, weight: w.id, biasAdd: add.id, bias: b.id };
    }
  }
  return { matmul: mm.id, weight: w.id, biasAdd: null, bias: null };
}

/** Nodes reached from `id` through elementwise ops only: where a linear's output goes before a kernel boundary. */
function elementwiseReach(g: Graph, consumers: number[][], id: number): Set<number> {
  const seen = new Set<number>();
  const stack = [id];
  while (stack.length) {
    const n = stack.pop() as number;
    for (const c of consumers[n]) {
      if (!seen.has(c) && isElementwise(g.nodes[c])) {
        seen.add(c);
        stack.push(c);
      }
    }
  }
  return seen;
}

/**
 * Linear layers that read the same input (attention's q, k and v projections) become one matmul
 * against their weights concatenated along the output axis, whose output is sliced back apart.
 * Concatenation and slices are views: the weights are not copied, and the input is read (and its
 * normalisation's statistics accumulated) once instead of once per projection. Linears whose outputs
 * meet in elementwise math (SwiGLU's act(gate) * up) stay apart: separate, the second one's epilogue
 * takes the product; merged, the product of two slices would need a kernel of its own.
 */
export function mergeSiblingLinears(g: Graph): Graph {
  const consumers = consumersOf(g);
  const b = new GraphBuilder(g.name);
  const replaced = new Map<number, number>();
  const groups = new Map<number, Sibling[]>();
  for (const n of g.nodes) {
    const sibs = consumers[n.id].map((c) => asSibling(g, consumers, g.nodes[c], n.id)).filter((s): s is Sibling => s !== null);
    // Merge those that agree on having a bias; the others stay as they are.
    const withBias = sibs.filter((s) => s.biasAdd !== null);
    const without = sibs.filter((s) => s.biasAdd === null);
    for (const set of [withBias, without]) {
      if (set.length < 2) continue;
      const reach = set.map((x) => elementwiseReach(g, consumers, x.matmul));
      const meet = reach.some((r, i) => reach.some((o, j) => j > i && [...r].some((id) => o.has(id))));
      if (!meet) groups.set(set[0].matmul, set);
    }
  }
  if (groups.size === 0) return g;
  const skip = new Set<number>();
  for (const set of groups.values()) for (const s of set.slice(1)) skip.add(s.matmul);

  return rebuild(g, b, replaced, (n, map) => {
    if (skip.has(n.id)) return true;
    const set = groups.get(n.id);
    if (!set) return false;
    b.source = n.source;
    const weight = b.concat(
      set.map((s) => map(s.weight)),
      0,
    );
    let merged = b.matmul(map(n.inputs[0]), weight);
    if (set[0].bias !== null)
      merged = b.binary(
        "add",
        merged,
        b.concat(
          set.map((s) => map(s.bias as number)),
          0,
        ),
      );
    let offset: Dim = 0;
    const axis = g.nodes[n.id].shape.length - 1;
    for (const s of set) {
      const width = g.nodes[s.weight].shape[0];
      const part = b.slice(merged, axis, offset, dimAdd(offset, width));
      replaced.set(s.biasAdd ?? s.matmul, part);
      offset = dimAdd(offset, width);
    }
    return true;
  });
}
