import { matmulOperands } from "./matmul-operands.ts";
import { dimCeilDiv as ceilDiv, numel, type Dim } from "../../core/dims.ts";
import { emitVec4Epilogue } from "./matmul-epilogue.ts";
import { emitSharedPrologueStats } from "./matmul-prologue.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import { SHUFFLE_LANES, type MatmulTiling } from "./tiling.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import type { KernelWriter } from "./writer.ts";

/**
 * Register blocking for weights stored [K, N]: each invocation computes `tm` rows by `tn` groups of 4
 * consecutive columns, taking per step of K one value of A per row (the same for every invocation of
 * the workgroup: loaded by each, or by one lane and shuffled) and loading one vec4 of B per column
 * group. Tile sizes and how A is shared come from the tiling (tiling.ts: defaults, or the autotuner's).
 */
export function blockedMatmulKernel(
  w: KernelWriter,
  transposed: number,
  tiling: Extract<MatmulTiling, { strategy: "blocked" }>,
): KernelCode {
  const { group } = w;
  const { threads, tm: TM } = tiling;
  // Weights stored [K, N] (transpose-weights.ts): N is known.
  const { core, root, a, M, N, K, batchShape, batch, aRow, mDim, kDim } = matmulOperands(w);
  const groups = (N as number) / 4;
  // Narrow outputs take fewer column groups per invocation, so the workgroup is not mostly idle.
  const TN = Math.max(1, Math.min(tiling.tn, Math.ceil(groups / threads)));

  // Row tiles along x, which consecutive workgroups step through first: they share one slice of the
  // weights, which stays in cache, where column tiles first would stream all of B once per row tile
  // (ViT-B/16's fc1: 25 passes over 9.4 MB).
  const u = E.u32;
  const mBase = E.named("mBase", "u32");
  const groupBase = E.add(E.mul(E.named("wid.y", "u32"), u(threads * TN)), E.named("lid.x", "u32"));
  w.line(`let mBase = wid.x * ${TM}u;`);
  const statRows = emitSharedPrologueStats(w, [...group.reduces, ...group.rowStats], K, batch, mBase, TM, threads);
  const ms = Array.from({ length: TM }, (_, i) => w.let(E.min(E.add(mBase, u(i)), E.sub(mDim, u(1))), "m"));
  const groupIndex = Array.from({ length: TN }, (_, j) => w.let(E.add(groupBase, u(threads * j)), "g"));
  const cols = groupIndex.map((gi) => w.let(E.mul(E.min(gi, u(groups - 1)), u(4)), "n"));

  const accs = ms.map((_, i) => cols.map((_, j) => `acc${i}_${j}`));
  for (const acc of accs.flat()) w.line(`var ${acc} = vec4<f32>(0.0);`);
  const k = E.named("k", "u32");
  hoistRowConstants(w, a.id, ms, (m) => aRow(m, k));
  const step = (k: Expr, av: readonly Expr[]): void => {
    const bv = cols.map((n) => w.valueVec4(transposed, [k, n]));
    accs.forEach((row, i) => row.forEach((acc, j) => w.line(`${acc} = fma(${E.convert("vec4f", av[i])}, ${bv[j]}, ${acc});`)));
  };
  if (tiling.aLoads === "shuffle") {
    // Each of SHUFFLE_LANES lanes loads A at its own step of K in a block of that many steps, and the
    // inner loop takes each step's value from its lane by subgroupShuffle. The inner loop is not
    // unrolled: a body with eight steps' loads of B outgrew the CPU's instruction cache on lavapipe.
    const L = SHUFFLE_LANES;
    w.enables.add("subgroups");
    const [k0, j] = [E.named("k0", "u32"), E.named("j", "u32")];
    const lastK = E.sub(kDim, u(1));
    w.block(`for (var k0 = 0u; k0 < ${kDim}; k0 = k0 + ${L}u) {`, () => {
      const kl = w.let(E.add(k0, E.mod(E.named("sgLane", "u32"), u(L))), "kl");
      // Past the end of K (when K is not a multiple of L) A reads as 0 and B at the last step.
      const exact = typeof K === "number" && K % L === 0;
      const mine = ms.map((m) =>
        exact ? w.value(a.id, aRow(m, kl)) : w.let(E.select(E.f32(0), w.value(a.id, aRow(m, E.min(kl, lastK))), E.lt(kl, kDim)), "a"),
      );
      w.block(`for (var j = 0u; j < ${L}u; j = j + 1u) {`, () => {
        const k = w.let(exact ? E.add(k0, j) : E.min(E.add(k0, j), lastK), "k");
        step(
          k,
          mine.map((v) => w.let(E.call("subgroupShuffle", [v, j], "f32"), "ab")),
        );
      });
    });
  } else {
    w.block(`for (var k = 0u; k < ${kDim}; k = k + 1u) {`, () =>
      step(
        k,
        ms.map((m) => w.value(a.id, aRow(m, k))),
      ),
    );
  }

  emitVec4Epilogue(w, core, root, {
    accs,
    rowOf: (i) => E.add(mBase, i),
    groupOf: (j) => E.add(groupBase, E.mul(u(threads), j)),
    batch,
    M,
    N,
    perVec4: tiling.epilogue === "vec4",
  });
  const body = w.takeBody();
  const shared = statRows > 0 ? `var<workgroup> statPartials: array<f32, ${threads * statRows}>;\n` : "";
  const entry = `${shared}@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>${tiling.aLoads === "shuffle" ? ", @builtin(subgroup_invocation_id) sgLane: u32" : ""}) {
${body}
}`;
  const dispatch = { kind: "grid" as const, x: ceilDiv(M, TM), y: Math.ceil(groups / (threads * TN)) as Dim, z: numel(batchShape) };
  return finish(w, entry, dispatch);
}

/**
 * Values on A's side that are constant along K (one per row, like the first element a row shift
 * subtracts) are computed once per row before the main loop; the loop's loads of A then reuse them.
 */
function hoistRowConstants(w: KernelWriter, aId: number, rows: readonly Expr[], coordsOf: (m: Expr) => Expr[]): void {
  const g = w.graph;
  const members = new Set(w.group.members);
  const seen = new Set<number>();
  const stack = [aId];
  while (stack.length) {
    const id = stack.pop() as number;
    if (seen.has(id) || !members.has(id)) continue;
    seen.add(id);
    stack.push(...g.nodes[id].inputs);
  }
  const rank = g.nodes[aId].shape.length;
  for (const id of seen) {
    const shape = g.nodes[id].shape;
    if (id === aId || shape.length !== rank || shape[rank - 1] !== 1) continue;
    for (const m of rows) w.value(id, w.broadcastCoords(shape, coordsOf(m)));
  }
}
