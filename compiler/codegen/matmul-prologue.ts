import type { Dim } from "../../core/dims.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import { F32_LOWEST, type KernelWriter } from "./writer.ts";

/** A row statistic from its total over `length` elements: a mean divides, a sum or max is the total. */
export function statisticOf(w: KernelWriter, id: number, total: Expr, length: Dim): Expr {
  const op = w.graph.nodes[id].op;
  return op.kind === "reduce" && op.fn === "mean" ? E.div(total, E.convert("f32", w.dim(length))) : total;
}

/** A row statistic's start value and how it takes one more value: a maximum or a sum. */
export function rowReduction(isMax: boolean): { init: Expr; combine: (acc: Expr, v: Expr) => Expr } {
  return { init: isMax ? F32_LOWEST : E.f32(0), combine: isMax ? E.max : E.add };
}

/** A running total (`var`) of f32s. */
const total = (name: string): Expr => E.variable(name, "f32");
const kk = E.named("kk", "u32");
/** One invocation's partial total in workgroup memory. */
const partial = (index: Expr): Expr => E.element("statPartials", index, "f32", true);

/** How the invocations that share rows divide a loop over K: each starts at `start` and steps by `step`; `combine` totals their partial values. */
export interface LaneSplit {
  start: Expr;
  step: number;
  combine: (partials: Expr[], isMax: boolean) => Expr[];
}

/**
 * The rows of the normalised tensor a tile covers: `K / rowLength` consecutive rows per row of A (one
 * unless A is a reshape merging rows), starting at `first`, clamped to `lastRow`.
 */
function normalizedRows(
  w: KernelWriter,
  statId: number,
  K: Dim,
  batch: readonly Expr[],
  firstRow: Expr,
  tm: number,
): { rowLength: Dim; count: number; lastRow: Expr; first: Expr; xBatch: Expr[] } {
  const g = w.graph;
  const normalized = g.nodes[g.nodes[statId].inputs[0]];
  const rowLength = normalized.shape[normalized.shape.length - 1];
  const perA = typeof K === "number" && typeof rowLength === "number" ? K / rowLength : 1;
  return {
    rowLength,
    count: perA * tm,
    lastRow: E.sub(w.dim(normalized.shape[normalized.shape.length - 2]), E.u32(1)),
    first: w.let(E.mul(E.u32(perA), firstRow), "first"),
    xBatch: w.broadcastCoords(normalized.shape.slice(0, -2), batch),
  };
}

/**
 * Statistics of a normalisation applied on load of A (the group's `reduces`), for the rows of the
 * normalised tensor that the tile's `tm` rows of A starting at `firstRow` cover: `K / rowLength`
 * consecutive rows per row of A when A is a reshape merging them (Qwen2-VL's merger normalises each
 * patch, then merges 2x2 patches into one row). Each statistic goes to a private array the loads of A
 * index by row. Returns how many rows of statistics were computed (0 without a prologue).
 */
export function emitPrologueStats(w: KernelWriter, K: Dim, batch: readonly Expr[], firstRow: Expr, tm: number, lanes: LaneSplit): number {
  const { graph: g, group } = w;
  if (group.reduces.length === 0) return 0;
  const { rowLength, count, lastRow, first, xBatch } = normalizedRows(w, group.reduces[0], K, batch, firstRow, tm);
  const rowVars = Array.from({ length: count }, (_, t) => w.let(E.min(E.add(first, E.u32(t)), lastRow), "xr"));
  for (const id of group.reduces) {
    const op = g.nodes[id].op;
    if (op.kind !== "reduce") continue;
    const isMax = op.fn === "max";
    const { init, combine } = rowReduction(isMax);
    // One loop for all the rows: a loop each made the 16-row prologue a 34-loop kernel that lavapipe took
    // 11-17 s to compile. Each row's total takes its values in the same order either way.
    const partials = rowVars.map(() => total(w.fresh("acc")));
    for (const acc of partials) w.line(`var ${acc} = ${init};`);
    w.block(`for (var kk = ${lanes.start}; kk < ${w.dim(rowLength)}; kk = kk + ${lanes.step}u) {`, () => {
      rowVars.forEach((row, r) =>
        w.line(`${partials[r]} = ${combine(partials[r], w.value(g.nodes[id].inputs[0], [...xBatch, row, kk]))};`),
      );
    });
    const totals = lanes.combine(partials, isMax);
    const array = w.fresh("stats");
    w.line(`var ${array}: array<f32, ${count}>;`);
    totals.forEach((t, i) => w.line(`${array}[${i}] = ${statisticOf(w, id, t, rowLength)};`));
    w.statTables.set(id, { array, first, axis: g.nodes[id].shape.length - 2 });
  }
  return count;
}

/**
 * Row statistics (`ids`: a normalisation on load of A, or the statistics of A an epilogue reads)
 * computed by the whole workgroup together, before the main loop, for a kernel whose invocations all
 * share the tile's rows (the register-blocked matmul): each invocation sums every `threads`-th element
 * of each row, the partial sums meet in workgroup memory (`statPartials`, which the caller declares
 * with `threads * rows` elements), and every invocation then reads all the totals. Rows are a loop, not
 * unrolled, so the shader stays small. A second pass over the tile's rows costs far less than
 * accumulating the statistics inside the main loop, where each is one more full-width vector operation
 * per step of K on CPU Vulkan. Returns the number of rows (0 without statistics).
 */
export function emitSharedPrologueStats(
  w: KernelWriter,
  ids: readonly number[],
  K: Dim,
  batch: readonly Expr[],
  firstRow: Expr,
  tm: number,
  threads: number,
): number {
  const g = w.graph;
  if (ids.length === 0) return 0;
  const { rowLength, count, lastRow, first, xBatch } = normalizedRows(w, ids[0], K, batch, firstRow, tm);
  for (const id of ids) {
    const op = g.nodes[id].op;
    if (op.kind !== "reduce") continue;
    const { init, combine } = rowReduction(op.fn === "max");
    w.block(`for (var t = 0u; t < ${count}u; t = t + 1u) {`, () => {
      const row = w.let(E.min(E.add(first, E.named("t", "u32")), lastRow), "xr");
      const acc = total(w.fresh("acc"));
      w.line(`var ${acc} = ${init};`);
      w.block(`for (var kk = lid.x; kk < ${w.dim(rowLength)}; kk = kk + ${threads}u) {`, () => {
        w.line(`${acc} = ${combine(acc, w.value(g.nodes[id].inputs[0], [...xBatch, row, kk]))};`);
      });
      w.line(`statPartials[t * ${threads}u + lid.x] = ${acc};`);
    });
    w.line("workgroupBarrier();");
    const array = w.fresh("stats");
    w.line(`var ${array}: array<f32, ${count}>;`);
    w.block(`for (var t = 0u; t < ${count}u; t = t + 1u) {`, () => {
      const sum = total(w.fresh("total"));
      w.line(`var ${sum} = ${init};`);
      w.block(`for (var l = 0u; l < ${threads}u; l = l + 1u) {`, () =>
        w.line(`${sum} = ${combine(sum, partial(E.add(E.mul(E.named("t", "u32"), E.u32(threads)), E.named("l", "u32"))))};`),
      );
      w.line(`${array}[t] = ${statisticOf(w, id, sum, rowLength)};`);
    });
    w.line("workgroupBarrier();");
    w.statTables.set(id, { array, first, axis: g.nodes[id].shape.length - 2 });
  }
  return count;
}

/**
 * Row statistics (as emitSharedPrologueStats) for a kernel whose workgroup covers many rows (the GPU
 * matmul's block): `threads / rows` invocations share each row (at least one; rows beyond the
 * workgroup take further passes), their partial sums meet in workgroup memory, and each row's
 * statistic is stored once in a workgroup array that every invocation reads. Returns the workgroup
 * declarations it needs (none without statistics).
 */
export function emitWorkgroupStats(
  w: KernelWriter,
  ids: readonly number[],
  K: Dim,
  batch: readonly Expr[],
  firstRow: Expr,
  tm: number,
  threads: number,
): string[] {
  const g = w.graph;
  if (ids.length === 0) return [];
  const { rowLength, count, lastRow, first, xBatch } = normalizedRows(w, ids[0], K, batch, firstRow, tm);
  const perRow = Math.max(1, Math.floor(threads / count));
  const rowsPerPass = Math.floor(threads / perRow);
  const declarations = [`var<workgroup> statPartials: array<f32, ${threads}>;`];
  for (const id of ids) {
    const op = g.nodes[id].op;
    if (op.kind !== "reduce") continue;
    const { init, combine } = rowReduction(op.fn === "max");
    const array = w.fresh("stats");
    declarations.push(`var<workgroup> ${array}: array<f32, ${count}>;`);
    w.block(`for (var r0 = 0u; r0 < ${count}u; r0 = r0 + ${rowsPerPass}u) {`, () => {
      const lid = E.named("lid.x", "u32");
      const t = w.let(E.add(E.named("r0", "u32"), E.div(lid, E.u32(perRow))), "tr");
      const lane = w.let(E.mod(lid, E.u32(perRow)), "lane");
      const row = w.let(E.min(E.add(first, E.min(t, E.u32(count - 1))), lastRow), "xr");
      const acc = total(w.fresh("acc"));
      w.line(`var ${acc} = ${init};`);
      w.block(`for (var kk = ${lane}; kk < ${w.dim(rowLength)}; kk = kk + ${perRow}u) {`, () => {
        w.line(`${acc} = ${combine(acc, w.value(g.nodes[id].inputs[0], [...xBatch, row, kk]))};`);
      });
      w.line(`statPartials[lid.x] = ${acc};`);
      w.line("workgroupBarrier();");
      w.block(`if (${lane} == 0u && ${t} < ${count}u && lid.x < ${rowsPerPass * perRow}u) {`, () => {
        const sum = total(w.fresh("total"));
        w.line(`var ${sum} = ${init};`);
        w.block(`for (var l = 0u; l < ${perRow}u; l = l + 1u) {`, () =>
          w.line(`${sum} = ${combine(sum, partial(E.add(lid, E.named("l", "u32"))))};`),
        );
        w.line(`${array}[${t}] = ${statisticOf(w, id, sum, rowLength)};`);
      });
      w.line("workgroupBarrier();");
    });
    w.statTables.set(id, { array, first, axis: g.nodes[id].shape.length - 2 });
  }
  return declarations;
}
