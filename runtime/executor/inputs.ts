// What the executor checks of the inputs it is given, on the host, before any GPU work.
import { InputError } from "../../core/errors.ts";
import { evalDim, shapeToString, type DimEnv } from "../../core/dims.ts";
import type { Node } from "../../core/graph.ts";
import type { Plan } from "../../core/plan.ts";
import type { HostTensor } from "../tensor.ts";

/**
 * Binds the input's symbolic dims (B, or M in `4 * M`) from the shapes actually given, or says which
 * dim is wrong. A dim that is a constant times a symbol binds that symbol when the division is exact.
 */
export function bindSymbols(node: Node, name: string, shape: readonly number[], env: Record<string, number>): void {
  const fail = (why = ""): never => {
    throw new InputError(`input '${name}' has shape [${shape.join(", ")}], but the graph expects ${shapeToString(node.shape)}${why}`);
  };
  if (shape.length !== node.shape.length) fail();
  node.shape.forEach((d, i) => {
    if (typeof d === "number") {
      if (d !== shape[i]) fail();
      return;
    }
    // S, c*S or S*c: the symbol follows from the input's size.
    const product = d.op === "*" ? [d.a, d.b] : null;
    const constant = product?.find((x): x is number => typeof x === "number");
    const symbol = product?.find((x) => typeof x !== "number" && x.op === "sym");
    const scaled =
      d.op === "sym"
        ? { c: 1, s: d.name }
        : constant !== undefined && symbol !== undefined && typeof symbol !== "number" && symbol.op === "sym"
          ? { c: constant, s: symbol.name }
          : null;
    if (!scaled || env[scaled.s] !== undefined) return;
    if (shape[i] % scaled.c !== 0) fail(` (axis ${i} must be a multiple of ${scaled.c})`);
    env[scaled.s] = shape[i] / scaled.c;
  });
  node.shape.forEach((d, i) => {
    if (typeof d !== "number") {
      let value: number;
      try {
        value = evalDim(d, env);
      } catch {
        return fail(` (${shapeToString([d])} cannot be bound from it)`);
      }
      if (value !== shape[i]) fail();
    }
  });
}

/** Gather indices and segment boundaries are checked on the host: out of range on the GPU would read clamped garbage. */
export function checkIndexInputs(plan: Plan, inputs: ReadonlyMap<string, HostTensor>, env: DimEnv): void {
  const g = plan.graph;
  for (const n of g.nodes) {
    const indexOf = n.op.kind === "gather" ? 1 : n.op.kind === "attention" && n.op.segmented ? 3 : -1;
    if (indexOf < 0) continue;
    const src = g.nodes[n.inputs[indexOf]];
    if (src.op.kind !== "input") continue;
    const name = src.op.name;
    const values = (inputs.get(name) as HostTensor).data;
    const limit =
      n.op.kind === "gather" ? evalDim(g.nodes[n.inputs[0]].shape[n.op.axis], env) : evalDim(g.nodes[n.inputs[1]].shape[1], env) + 1;
    values.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v >= limit)
        throw new InputError(`input '${name}'[${i}] = ${v} is not an index in [0, ${limit})`);
      if (n.op.kind === "attention" && i > 0 && v < values[i - 1])
        throw new InputError(`input '${name}' must be non-decreasing segment boundaries`);
    });
  }
}
