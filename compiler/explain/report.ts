import { kernelShape } from "./kernel-shape.ts";
import { evalDim, numel, shapeToString, type DimEnv } from "../../core/dims.ts";
import type { Graph, Node } from "../../core/graph.ts";
import { kernelCost } from "../../core/cost.ts";
import type { Dispatch, Plan } from "../../core/plan.ts";

export interface ExplainedKernel {
  index: number;
  name: string;
  kind: string;
  /** Invocations per workgroup. */
  workgroupSize: number;
  workgroupMemoryBytes: number;
  /** Output elements per invocation dispatched, at the report's dims (invocations past the edges count too). */
  outputsPerInvocation: number;
  /** The matmul or attention tiling it was generated with (null for other kinds and untuned shapes). */
  tiling: string | null;
  /** Primitive ops computed in the kernel, in order. */
  ops: string[];
  /** Graph-file lines the ops came from (outermost call site), in order of appearance. */
  source: string[];
  /** The same, down to the prelude line of each primitive. */
  sourceDetail: string[];
  flops: number;
  bytes: number;
  reads: { node: number; name: string; shape: string }[];
  writes: { node: number; name: string; shape: string };
  /** Why the kernel writes its root to memory, and the fusion rule that joined each other op to it. */
  fusion: { apart: string; joined: { node: number; op: string; rule: string }[] } | null;
}

export interface ExplainReport {
  graph: string;
  file: string;
  /** The symbolic dims the figures were computed at. */
  dims: Record<string, number>;
  fused: boolean;
  kernels: ExplainedKernel[];
  totals: { kernels: number; flops: number; bytes: number; pipelines: number };
  /** Weights derived from the checkpoint's once, at load time (folded normalisation gains, resized tables). */
  prepared: { kernels: number; flops: number; tensors: { name: string; shape: string; ops: string[]; source: string[] }[] } | null;
}

export function opName(n: Node): string {
  const op = n.op;
  if (op.kind === "unary" || op.kind === "binary") return op.fn;
  if (op.kind === "reduce") return `reduce_${op.fn}`;
  return op.kind;
}

function tensorName(g: Graph, id: number): string {
  const n = g.nodes[id];
  if (n.op.kind === "param" || n.op.kind === "input") return n.op.name;
  const out = g.outputs.find((o) => o.node === id);
  return out ? out.name : `%${id}`;
}

function fusionOf(plan: Plan, index: number): ExplainedKernel["fusion"] {
  const f = plan.fusion?.[index];
  if (!f) return null;
  return { apart: f.apart, joined: f.joined.map((j) => ({ node: j.node, op: opName(plan.graph.nodes[j.node]), rule: j.rule })) };
}

function workgroups(d: Dispatch, env: DimEnv): number {
  return d.kind === "linear" ? evalDim(d.count, env) : evalDim(d.x, env) * evalDim(d.y, env) * evalDim(d.z, env);
}

export function explainPlan(plan: Plan, file: string, env: DimEnv, fused: boolean): ExplainReport {
  const g = plan.graph;
  const kernels = plan.kernels.map((k, index): ExplainedKernel => {
    const nodes = k.nodes.map((id) => g.nodes[id]);
    const uniq = (xs: string[]): string[] => [...new Set(xs)];
    const cost = kernelCost(g, k, env, plan.storage);
    const shape = kernelShape(k.wgsl);
    const describe = (id: number): { node: number; name: string; shape: string } => ({
      node: id,
      name: tensorName(g, id),
      shape: shapeToString(g.nodes[id].shape.map((d) => evalDim(d, env))),
    });
    return {
      index,
      name: k.name,
      kind: k.kind,
      ...shape,
      outputsPerInvocation: Number(
        (evalDim(numel(g.nodes[k.write].shape), env) / (workgroups(k.dispatch, env) * shape.workgroupSize)).toFixed(2),
      ),
      tiling: k.tuning?.tiling ?? null,
      ops: nodes.map(opName),
      source: uniq(
        nodes.flatMap((n) => {
          // The innermost frame in the graph file itself: the line a reader of that file wrote.
          const own = n.source.filter((s) => s.file === file).at(-1) ?? n.source[0];
          return own ? [`${own.file}:${own.line}`] : [];
        }),
      ),
      sourceDetail: uniq(nodes.map((n) => n.source.map((s) => `${s.file}:${s.line}:${s.column}`).join(" > "))),
      flops: cost.flops,
      bytes: cost.bytes,
      reads: uniq(k.reads.map((r) => String(r.node))).map((id) => describe(Number(id))),
      writes: describe(k.write),
      fusion: fusionOf(plan, index),
    };
  });
  return {
    graph: g.name,
    file,
    dims: { ...env },
    fused,
    kernels,
    totals: {
      kernels: kernels.length,
      flops: kernels.reduce((a, k) => a + k.flops, 0),
      bytes: kernels.reduce((a, k) => a + k.bytes, 0),
      pipelines: new Set(plan.kernels.map((k) => k.wgsl)).size,
    },
    prepared: plan.prepare && explainPreparation(plan.prepare, file),
  };
}

function explainPreparation(prep: Plan, file: string): NonNullable<ExplainReport["prepared"]> {
  const g = prep.graph;
  return {
    kernels: prep.kernels.length,
    flops: prep.kernels.reduce((a, k) => a + kernelCost(g, k, {}).flops, 0),
    tensors: g.outputs.map((o) => {
      const from: Node[] = [];
      const stack = [o.node];
      while (stack.length) {
        const n = g.nodes[stack.pop() as number];
        if (from.includes(n)) continue;
        from.push(n);
        stack.push(...n.inputs);
      }
      const computed = from.filter((n) => n.op.kind !== "param" && n.op.kind !== "const").sort((a, b) => a.id - b.id);
      return {
        name: o.name,
        shape: shapeToString(g.nodes[o.node].shape),
        ops: computed.map(opName),
        source: [
          ...new Set(
            computed.flatMap((n) =>
              n.source
                .filter((s) => s.file === file)
                .slice(-1)
                .map((s) => `${s.file}:${s.line}`),
            ),
          ),
        ],
      };
    }),
  };
}
