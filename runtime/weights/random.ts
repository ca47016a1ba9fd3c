import { evalDim } from "../../core/dims.ts";
import type { Graph } from "../../core/graph.ts";
import { sizeOf, type HostTensor, type WeightSource } from "../tensor.ts";

/** Small, fast, seedable PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTensor(shape: number[], rand: () => number, scale = 1, offset = 0): HostTensor {
  const data = new Float32Array(sizeOf(shape));
  // Box-Muller gives two independent normals per pair of uniforms: use both.
  for (let i = 0; i < data.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12)));
    const t = 2 * Math.PI * rand();
    data[i] = offset + scale * r * Math.cos(t);
    if (i + 1 < data.length) data[i + 1] = offset + scale * r * Math.sin(t);
  }
  return { shape, data };
}

/**
 * Seeded random weights for every parameter of a graph, in the spirit of Hugging Face's init:
 * N(0, 0.02) for matrices, embeddings and biases, ~1 for 1-D norm scales.
 */
export function randomWeights(g: Graph, seed: number): Map<string, HostTensor> {
  const rand = rng(seed);
  const out = new Map<string, HostTensor>();
  for (const n of g.nodes) {
    if (n.op.kind !== "param") continue;
    const shape = n.shape.map((d) => evalDim(d, {}));
    const isScale = shape.length === 1 && /norm.*\.weight$|ln.*\.weight$/.test(n.op.name);
    out.set(n.op.name, randomTensor(shape, rand, 0.02, isScale ? 1 : 0));
  }
  return out;
}

/** FNV-1a of a name: each tensor of lazyRandomWeights gets a seed of its own. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The same kind of seeded random weights, made when asked for and not kept: a tensor is generated
 * (from the seed and its name) when the executor reads it, so a real-size run never holds every
 * weight on the host at once.
 */
export function lazyRandomWeights(g: Graph, seed: number): WeightSource {
  const shapes = new Map<string, number[]>();
  for (const n of g.nodes)
    if (n.op.kind === "param")
      shapes.set(
        n.op.name,
        n.shape.map((d) => evalDim(d, {})),
      );
  return {
    get(name) {
      const shape = shapes.get(name);
      if (!shape) return undefined;
      const isScale = shape.length === 1 && /norm.*\.weight$|ln.*\.weight$/.test(name);
      return randomTensor(shape, rng(seed ^ nameHash(name)), 0.02, isScale ? 1 : 0);
    },
  };
}
