import { dimCeilDiv as ceilDiv, numel, type Dim } from "../ir/dims.ts";
import type { Graph, Node } from "../ir/graph.ts";
import { emitSharedPrologueStats, statisticOf } from "./matmul-prologue.ts";
import type { KernelCode } from "./templates.ts";
import { statKey, type Code, type KernelWriter } from "./writer.ts";

/**
 * Register blocking for weights stored [K, N]: each invocation computes `tm` rows by `tn` groups of 4
 * consecutive columns, loading per step of K one value of A per row (the same for every invocation of
 * the workgroup) and one vec4 of B per column group. Measured on lavapipe (197x768x3072, ViT-B/16's
 * fc1): 8x3 about 14.8 GFLOP/s, 8x2 10.6, 4x2 9.9, 16x2 13.7, against 4.3 for the split-K kernel.
 */
export const BLOCKED_TILING = { threads: 64, tm: 8, tn: 3 };

/** The [K, N] buffer that a matmul's B [N, K] is a transposed view of (a weight stored transposed at load time), when N is a multiple of 4. */
export function transposedWeightOf(g: Graph, core: Node): number | null {
  if (core.op.kind !== "matmul") return null;
  const b = g.nodes[core.inputs[1]];
  if (b.op.kind !== "permute" || b.op.perm[0] !== 1 || b.shape.length !== 2) return null;
  const t = g.nodes[b.inputs[0]];
  const n = b.shape[0];
  if ((t.op.kind !== "param" && t.op.kind !== "input") || typeof n !== "number" || n % 4 !== 0) return null;
  return t.id;
}

export function blockedMatmulKernel(w: KernelWriter, transposed: number): KernelCode {
  const { graph: g, group } = w;
  const { threads, tm: TM } = BLOCKED_TILING;
  const core = g.nodes[group.core ?? -1];
  const root = g.nodes[group.root];
  const a = g.nodes[core.inputs[0]];
  const r = core.shape.length;
  const M = core.shape[r - 2];
  const N = core.shape[r - 1] as number;
  const K = a.shape[a.shape.length - 1];
  const groups = N / 4;
  // Narrow outputs take fewer column groups per invocation, so the workgroup is not mostly idle.
  const TN = Math.max(1, Math.min(BLOCKED_TILING.tn, Math.ceil(groups / threads)));
  const batchShape = core.shape.slice(0, -2);
  const batch = batchShape.length ? w.unravel("wid.z", batchShape, "bt") : [];
  const aRow = (m: Code, k: Code): Code[] => [...w.broadcastCoords(a.shape.slice(0, -2), batch), m, k];
  const [mDim, kDim] = [w.dim(M), w.dim(K)];

  w.line(`let mBase = wid.y * ${TM}u;`);
  const statRows = emitSharedPrologueStats(w, K, batch, "mBase", TM, threads);
  const ms = Array.from({ length: TM }, (_, i) => w.let(`min(mBase + ${i}u, ${mDim} - 1u)`, "m"));
  const groupIndex = Array.from({ length: TN }, (_, j) => w.let(`wid.x * ${threads * TN}u + lid.x + ${threads * j}u`, "g"));
  const cols = groupIndex.map((gi) => w.let(`min(${gi}, ${groups - 1}u) * 4u`, "n"));

  const accs = ms.map((_, i) => cols.map((_, j) => `acc${i}_${j}`));
  // Named by position, not node id, so every layer's kernel has the same text (and pipeline).
  const stats = group.rowStats.map((_, s) => ms.map((_, i) => `rowStat${s}_${i}`));
  for (const acc of accs.flat()) w.line(`var ${acc} = vec4<f32>(0.0);`);
  for (const acc of stats.flat()) w.line(`var ${acc} = 0.0;`);
  w.block(`for (var k = 0u; k < ${kDim}; k = k + 1u) {`, () => {
    const av = ms.map((m) => w.value(a.id, aRow(m, "k")));
    const bv = cols.map((n) => w.valueVec4(transposed, ["k", n]));
    accs.forEach((row, i) => row.forEach((acc, j) => w.line(`${acc} = fma(vec4<f32>(${av[i]}), ${bv[j]}, ${acc});`)));
    group.rowStats.forEach((id, s) => ms.forEach((m, i) => w.line(`${stats[s][i]} = ${stats[s][i]} + ${w.value(g.nodes[id].inputs[0], aRow(m, "k"))};`)));
  });

  // Epilogue: one loop over the invocation's TM x TN x 4 outputs, so the fused elementwise chain is
  // written (and compiled) once, not once per output.
  w.line(`var results = array<vec4<f32>, ${TM * TN}>(${accs.flat().join(", ")});`);
  const statArrays = stats.map((row, s) => w.let(`array<f32, ${TM}>(${row.join(", ")})`, `rowStats${s}_`));
  w.block(`for (var t = 0u; t < ${TM * TN * 4}u; t = t + 1u) {`, () => {
    const i = w.let(`t / ${TN * 4}u`, "i");
    const j = w.let(`(t / 4u) % ${TN}u`, "j");
    const e = w.let("t % 4u", "e");
    const m = w.let(`mBase + ${i}`, "mo");
    const gi = w.let(`wid.x * ${threads * TN}u + lid.x + ${threads}u * ${j}`, "g");
    const n = w.let(`${gi} * 4u + ${e}`, "no");
    w.block(`if (${m} < ${mDim} && ${gi} < ${groups}u) {`, () => {
      group.rowStats.forEach((id, s) => {
        const value = w.let(statisticOf(w, id, `${statArrays[s]}[${i}]`, K), "stat");
        w.statOverrides.set(statKey(id, w.broadcastCoords(g.nodes[id].shape, [...batch, m, n])), value);
      });
      w.overrides.set(core.id, w.let(`results[${i} * ${TN}u + ${j}][${e}]`, "acc"));
      const coords = [...batch, m, n];
      w.store(w.offset(root.shape, coords), w.value(root.id, coords));
    });
  });
  w.overrides.delete(core.id);
  const body = w.takeBody();
  const shared = statRows > 0 ? `var<workgroup> statPartials: array<f32, ${threads * statRows}>;\n` : "";
  const entry = `${shared}@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${body}
}`;
  const dispatch = { kind: "grid" as const, x: Math.ceil(groups / (threads * TN)) as Dim, y: ceilDiv(M, TM), z: numel(batchShape) };
  return { wgsl: w.module(entry), bindings: w.bindings, uniforms: w.uniforms, dispatch };
}
