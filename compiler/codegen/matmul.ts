import { matmulOperands } from "./matmul-operands.ts";
import { dimCeilDiv as ceilDiv, numel } from "../../core/dims.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import { blockedMatmulKernel } from "./matmul-blocked.ts";
import { storeOutput } from "./matmul-epilogue.ts";
import { tiledMatmulKernel } from "./matmul-tiled.ts";
import { transposedWeightOf } from "./weight-layout.ts";
import { emitPrologueStats, rowReduction, statisticOf } from "./matmul-prologue.ts";
import type { MatmulTiling } from "./tiling.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import { statKey, type KernelWriter } from "./writer.ts";

/**
 * Tiling of the matmul kernel. `split` consecutive invocations share one TM x TN output tile and
 * divide K between them in interleaved vec4 chunks, so that at every step they read consecutive
 * 16-byte pieces of the same rows of A and B: one contiguous load for a SIMD group on CPU Vulkan,
 * a coalesced one on a GPU. Partial sums meet in workgroup memory once, at the end.
 * Measured on lavapipe (CLIP-B/32 layer matmuls): vec4 chunks beat scalar lane interleaving by ~1.4x;
 * split 4 or 16 and 2x8 or 8x2 tiles were no faster than split 8 with 4x4 tiles.
 */
export const MATMUL_TILING = { threads: 64, split: 8, tm: 4, tn: 4, tilesX: 4, vec4: true };

/**
 * C[batch, M, N] = A[batch, M, K] . B[batch, N, K]^T with the kernel's prologue (row statistics for a
 * normalisation on load, views folded into the operand loads) and epilogue (the elementwise chain up
 * to the kernel's output).
 */
export function matmulKernel(w: KernelWriter, tiling: MatmulTiling): KernelCode {
  const transposed = transposedWeightOf(w.graph, w.graph.nodes[w.group.core ?? -1]);
  if (tiling.strategy === "tiled") return tiledMatmulKernel(w, transposed, tiling);
  return transposed === null || tiling.strategy === "split-k" ? splitKMatmulKernel(w) : blockedMatmulKernel(w, transposed, tiling);
}

/** The general kernel: any operands, K split across the lanes of a tile. */
function splitKMatmulKernel(w: KernelWriter): KernelCode {
  const { threads, split: S, tm: TM, tn: TN, tilesX } = MATMUL_TILING;
  const tilesY = threads / S / tilesX;
  const { graph: g, group } = w;
  const { core, root, a, b, M, N, K, batchShape, batch, aRow, bRow, mDim, nDim, kDim } = matmulOperands(w);
  const [aId, bId] = [a.id, b.id];
  const u = E.u32;
  const [lid, lane, tile] = [E.named("lid.x", "u32"), E.named("lane", "u32"), E.named("tile", "u32")];
  const [mBase, nBase] = [E.named("mBase", "u32"), E.named("nBase", "u32")];
  w.line(`let lane = lid.x % ${S}u;`);
  w.line(`let tile = lid.x / ${S}u;`);
  w.line(`let mBase = wid.y * ${tilesY * TM}u + (tile / ${tilesX}u) * ${TM}u;`);
  w.line(`let nBase = wid.x * ${tilesX * TN}u + (tile % ${tilesX}u) * ${TN}u;`);
  const ms = Array.from({ length: TM }, (_, i) => w.let(E.min(E.add(mBase, u(i)), E.sub(mDim, u(1))), "m"));
  const ns = Array.from({ length: TN }, (_, j) => w.let(E.min(E.add(nBase, u(j)), E.sub(nDim, u(1))), "n"));

  // Workgroup memory holds `width` partial values per lane; a tile's lanes are `split` consecutive invocations.
  const first = E.mul(tile, u(S));
  const slot = (width: number, laneIndex: Expr, i: Expr): Expr => E.element("laneSums", E.add(E.mul(laneIndex, u(width)), i), "f32", true);
  /** Each lane's partial values into its slots, for the whole workgroup to read after the barrier. */
  const storePartials = (partials: readonly Expr[]): void => {
    partials.forEach((p, i) => w.line(`${slot(partials.length, lid, u(i))} = ${p};`));
    w.line("workgroupBarrier();");
  };
  /** Partial `i` (an index, possibly dynamic) combined over the tile's lanes, in lane order. */
  const tileTotal = (width: number, i: Expr, combine: (acc: Expr, v: Expr) => Expr): Expr => {
    let t = slot(width, first, i);
    for (let l = 1; l < S; l++) t = combine(t, slot(width, E.add(first, u(l)), i));
    return t;
  };

  /**
   * Sums (or maxes) each lane's partial values over the `split` lanes of its tile, for every lane of the
   * tile: lane l totals partials l, l + split, ... into the tile's first slots (no other lane reads
   * those), then every lane reads all the totals. The prologue's 16 rows (Qwen2-VL's merger) are 32
   * workgroup loads a lane this way, against 128 when every lane totals every row.
   */
  const combineLanes = (partials: Expr[], isMax: boolean): Expr[] => {
    const width = partials.length;
    storePartials(partials);
    const { combine } = rowReduction(isMax);
    const part = E.named("part", "u32");
    w.block(`for (var part = lane; part < ${width}u; part = part + ${S}u) {`, () => {
      w.line(`${slot(width, first, part)} = ${tileTotal(width, part, combine)};`);
    });
    w.line("workgroupBarrier();");
    const totals = partials.map((_, i) => w.let(slot(width, first, u(i)), "sum"));
    w.line("workgroupBarrier();");
    return totals;
  };

  const prologueRows = emitPrologueStats(w, K, batch, mBase, TM, {
    start: lane,
    step: S,
    combine: (partials, isMax) => combineLanes(partials, isMax),
  });

  // Main loop over this lane's share of K; row statistics for the epilogue accumulate from the same loads of A.
  const accs = ms.map((_, i) => ns.map((_, j) => E.variable(`acc${i}_${j}`, "f32")));
  // Named by position, not node id, so every layer's kernel has the same text (and pipeline).
  const stats = group.rowStats.map((_, s) => ms.map((_, i) => E.variable(`rowStat${s}_${i}`, "f32")));
  const k = E.named("k", "u32");
  const statInput = (id: number): number => g.nodes[id].inputs[0];
  if (MATMUL_TILING.vec4) {
    // Interleaved vec4 chunks (one 16-byte load per operand row and step), then the scalar tail.
    const vaccs = accs.map((row) => row.map((acc) => `v${acc}`));
    const vstats = stats.map((row) => row.map((acc) => E.variable(`v${acc}`, "vec4f")));
    for (const acc of [...vaccs.flat(), ...vstats.flat()]) w.line(`var ${acc} = vec4<f32>(0.0);`);
    w.line(`let chunks = ${kDim} / 4u;`);
    w.block(`for (var c = lane; c < chunks; c = c + ${S}u) {`, () => {
      w.line("let k = c * 4u;");
      const av = ms.map((m) => w.valueVec4(aId, aRow(m, k)));
      const bv = ns.map((n) => w.valueVec4(bId, bRow(n, k)));
      vaccs.forEach((row, i) => row.forEach((acc, j) => w.line(`${acc} = fma(${av[i]}, ${bv[j]}, ${acc});`)));
      group.rowStats.forEach((id, s) =>
        ms.forEach((m, i) => w.line(`${vstats[s][i]} = ${E.add(vstats[s][i], w.valueVec4(statInput(id), aRow(m, k)))};`)),
      );
    });
    const horizontal = (v: Expr | string): string => `${v}.x + ${v}.y + ${v}.z + ${v}.w`;
    accs.forEach((row, i) => row.forEach((acc, j) => w.line(`var ${acc} = ${horizontal(vaccs[i][j])};`)));
    stats.forEach((row, s) => row.forEach((acc, i) => w.line(`var ${acc} = ${horizontal(vstats[s][i])};`)));
  } else {
    for (const acc of [...accs.flat(), ...stats.flat()]) w.line(`var ${acc} = 0.0;`);
  }
  if (!MATMUL_TILING.vec4 || typeof K !== "number" || K % 4 !== 0) {
    // Scalar steps, lane-interleaved: the lanes of a tile read consecutive elements of each row.
    const start = MATMUL_TILING.vec4 ? E.add(E.mul(E.div(kDim, u(4)), u(4)), lane) : lane;
    w.block(`for (var k = ${start}; k < ${kDim}; k = k + ${S}u) {`, () => {
      const av = ms.map((m) => w.value(aId, aRow(m, k)));
      const bv = ns.map((n) => w.value(bId, bRow(n, k)));
      accs.forEach((row, i) => row.forEach((acc, j) => w.line(`${acc} = fma(${av[i]}, ${bv[j]}, ${acc});`)));
      group.rowStats.forEach((id, s) =>
        ms.forEach((m, i) => w.line(`${stats[s][i]} = ${E.add(stats[s][i], w.value(statInput(id), aRow(m, k)))};`)),
      );
    });
  }
  // Each lane writes its partial sums once; the epilogue then totals, over the tile's lanes, only the
  // outputs it stores, at a dynamic offset. Totalling all TM x TN outputs in every lane and picking one
  // by comparisons made a kernel of 128 workgroup loads and 16 branches per lane, which lavapipe
  // compiled 4x slower (1.2-1.5 s against 0.31 s, K = 70). The sums are taken in the same order.
  const partials = [...accs.flat(), ...stats.flat()];
  const laneTotal = (offset: Expr): Expr => tileTotal(partials.length, offset, E.add);
  storePartials(partials);

  // Epilogue: the lanes of a tile share its outputs; each computes the fused elementwise chain for its own.
  w.block(`for (var o = lane; o < ${TM * TN}u; o = o + ${S}u) {`, () => {
    const o = E.named("o", "u32");
    w.line(`let total = ${laneTotal(o)};`);
    w.line(`let mOut = mBase + o / ${TN}u;`);
    const [mOut, nOut] = [E.named("mOut", "u32"), E.named("nOut", "u32")];
    group.rowStats.forEach((id, s) => {
      // The statistic of this output's row, among the tile's TM rows.
      const stat = w.let(laneTotal(E.add(E.div(o, u(TN)), u(TM * TN + s * TM))), "stat");
      const value = w.let(statisticOf(w, id, stat, K), "stat");
      w.statOverrides.set(statKey(id, w.broadcastCoords(g.nodes[id].shape, [...batch, mOut, nOut])), value);
    });
    w.line(`let nOut = nBase + o % ${TN}u;`);
    w.block(`if (${E.and(E.lt(mOut, mDim), E.lt(nOut, nDim))}) {`, () => {
      w.overrides.set(core.id, E.named("total", "f32"));
      storeOutput(w, root, batch, mOut, nOut);
    });
  });
  const body = w.takeBody();
  const sharedSize = threads * Math.max(TM * TN + TM * group.rowStats.length, prologueRows);
  const entry = `var<workgroup> laneSums: array<f32, ${sharedSize}>;
@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${body}
}`;
  return finish(w, entry, { kind: "grid", x: ceilDiv(N, tilesX * TN), y: ceilDiv(M, tilesY * TM), z: numel(batchShape) });
}
