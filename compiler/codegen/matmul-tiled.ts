import { matmulOperands } from "./matmul-operands.ts";
import { dimCeilDiv as ceilDiv, numel, type Dim } from "../../core/dims.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import { emitVec4Epilogue } from "./matmul-epilogue.ts";
import { emitWorkgroupStats } from "./matmul-prologue.ts";
import { tiledThreads, type MatmulTiling } from "./tiling.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import type { KernelWriter } from "./writer.ts";

export type TiledMatmulTiling = Extract<MatmulTiling, { strategy: "tiled" }>;

/**
 * The GPU matmul: a workgroup computes a `bm` x `bn` block of C. Per stage of `bk` steps of K, all its
 * invocations load the block's tiles of A (through the prologue: views, a normalisation on load) and B
 * into workgroup memory together, consecutive invocations reading consecutive addresses, then each
 * computes `tm` rows by `tn` groups of 4 columns from those tiles. A is held [k][m] with one word of
 * padding per row of the tile, so the stores that transpose it do not fall into one memory bank. B is
 * read as vec4s where it is stored [K, N] (prepared at load), or four columns of its [N, K] rows
 * otherwise (activations, batched B). Tiles past M, N or K read as 0, so any sizes work. Row statistics
 * (norm on load, an epilogue's statistics of A) are computed by the workgroup into workgroup memory.
 */
export function tiledMatmulKernel(w: KernelWriter, transposed: number | null, tiling: TiledMatmulTiling): KernelCode {
  const { group } = w;
  const { bm: BM, bn: BN, bk: BK, tm: TM, tn: TN } = tiling;
  const threads = tiledThreads(tiling);
  const colThreads = BN / 4 / TN;
  const { core, root, a, b, M, N, K, batchShape, batch, aRow, bRow, mDim, nDim, kDim } = matmulOperands(w);
  const [aId, bId] = [a.id, b.id];
  const exactK = typeof K === "number" && K % BK === 0;
  const aStride = BM + 1;
  const bGroups = BN / 4;

  // Row blocks along x, as in the blocked kernel: consecutive workgroups share one slice of B.
  const u = E.u32;
  const [mBase, gBase, tx, ty] = ["mBase", "gBase", "tx", "ty"].map((n) => E.named(n, "u32"));
  const [k0, e, kk] = ["k0", "e", "kk"].map((n) => E.named(n, "u32"));
  w.line(`let mBase = wid.x * ${BM}u;`);
  w.line(`let gBase = wid.y * ${bGroups}u;`);
  w.line(`let tx = lid.x % ${colThreads}u;`);
  w.line(`let ty = lid.x / ${colThreads}u;`);
  const stats = emitWorkgroupStats(w, [...group.reduces, ...group.rowStats], K, batch, mBase, BM, threads);
  const lastK = E.sub(kDim, u(1));

  const accs = Array.from({ length: TM }, (_, i) => Array.from({ length: TN }, (_, j) => `acc${i}_${j}`));
  for (const acc of accs.flat()) w.line(`var ${acc} = vec4<f32>(0.0);`);
  const inK = (k: Expr, v: Expr): Expr => (exactK ? v : E.select(E.convert(v.type, E.f32(0)), v, E.lt(k, kDim)));
  w.block(`for (var k0 = 0u; k0 < ${kDim}; k0 = k0 + ${BK}u) {`, () => {
    w.block(`for (var e = lid.x; e < ${BM * BK}u; e = e + ${threads}u) {`, () => {
      const mm = w.let(E.div(e, u(BK)), "mm");
      const kk = w.let(E.mod(e, u(BK)), "kk");
      const k = w.let(E.add(k0, kk), "k");
      const m = w.let(E.min(E.add(mBase, mm), E.sub(mDim, u(1))), "m");
      const v = w.value(aId, aRow(m, exactK ? k : E.min(k, lastK)));
      w.line(`aTile[${E.add(E.mul(kk, u(aStride)), mm)}] = ${inK(k, v)};`);
    });
    w.block(`for (var e = lid.x; e < ${BK * bGroups}u; e = e + ${threads}u) {`, () => {
      const kk = w.let(E.div(e, u(bGroups)), "kk");
      const c = w.let(E.mod(e, u(bGroups)), "c");
      const k = w.let(E.add(k0, kk), "k");
      const kc = exactK ? k : w.let(E.min(k, lastK), "kc");
      const n = w.let(E.add(E.mul(gBase, u(4)), E.mul(c, u(4))), "n");
      let v: Expr;
      if (transposed !== null) v = w.valueVec4(transposed, [kc, E.min(n, E.sub(nDim, u(4)))]);
      else {
        // Four columns of B [N, K] at this step of K; columns past N read as 0.
        const cols = [0, 1, 2, 3].map((q) => {
          const nq = w.let(E.add(n, u(q)), "nq");
          return E.select(E.f32(0), w.value(bId, bRow(E.min(nq, E.sub(nDim, u(1))), kc)), E.lt(nq, nDim));
        });
        v = E.vec4(cols);
      }
      w.line(`bTile[e] = ${inK(k, v)};`);
    });
    w.line("workgroupBarrier();");
    w.block(`for (var kk = 0u; kk < ${BK}u; kk = kk + 1u) {`, () => {
      const aAt = (i: number): Expr => E.add(E.add(E.mul(kk, u(aStride)), E.mul(ty, u(TM))), u(i));
      const bAt = (j: number): Expr => E.add(E.add(E.mul(kk, u(bGroups)), tx), u(colThreads * j));
      const av = accs.map((_, i) => w.let(E.element("aTile", aAt(i), "f32", true), "a"));
      const bv = accs[0].map((_, j) => w.let(E.element("bTile", bAt(j), "vec4f", true), "b"));
      accs.forEach((row, i) => row.forEach((acc, j) => w.line(`${acc} = fma(${E.convert("vec4f", av[i])}, ${bv[j]}, ${acc});`)));
    });
    w.line("workgroupBarrier();");
  });

  emitVec4Epilogue(w, core, root, {
    accs,
    rowOf: (i) => E.add(E.add(mBase, E.mul(ty, u(TM))), i),
    groupOf: (j) => E.add(E.add(gBase, tx), E.mul(u(colThreads), j)),
    batch,
    M,
    N,
    perVec4: false,
  });
  const body = w.takeBody();
  const declarations = [
    `var<workgroup> aTile: array<f32, ${BK * aStride}>;`,
    `var<workgroup> bTile: array<vec4<f32>, ${BK * bGroups}>;`,
    ...stats,
  ].join("\n");
  const entry = `${declarations}
@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${body}
}`;
  const groups: Dim = ceilDiv(N, 4);
  const dispatch = { kind: "grid" as const, x: ceilDiv(M, BM), y: ceilDiv(groups, bGroups), z: numel(batchShape) };
  return finish(w, entry, dispatch);
}
