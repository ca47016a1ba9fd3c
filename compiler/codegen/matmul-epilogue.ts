import type { Dim } from "../../core/dims.ts";
import type { Node } from "../../core/graph.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import type { KernelWriter } from "./writer.ts";

/** Where an invocation's accumulators sit in the output: `rows` x `groups` vec4s of 4 consecutive columns each. */
export interface Vec4Outputs {
  /** acc[i][j]: the accumulator of row i, column group j. */
  accs: readonly (readonly string[])[];
  /** The output row of accumulator row `i`. */
  rowOf: (i: Expr) => Expr;
  /** The column group (its first column / 4) of accumulator column `j`. */
  groupOf: (j: Expr) => Expr;
  batch: readonly Expr[];
  M: Dim;
  N: Dim;
  /** Per element, or per vec4 of columns (only where N is a multiple of 4). */
  perVec4: boolean;
}

/**
 * The matmul epilogue for kernels that hold vec4 accumulators: one loop over the invocation's outputs,
 * so the fused elementwise chain is written (and compiled) once per output of a step, not once per
 * output; outputs past M or N are not stored.
 */
export function emitVec4Epilogue(w: KernelWriter, core: Node, root: Node, o: Vec4Outputs): void {
  const TM = o.accs.length;
  const TN = o.accs[0].length;
  const whole = typeof o.N === "number" && o.N % 4 === 0;
  const perVec4 = o.perVec4 && whole;
  const [mDim, nDim] = [w.dim(o.M), w.dim(o.N)];
  w.line(`var results = array<vec4<f32>, ${TM * TN}>(${o.accs.flat().join(", ")});`);
  const u = E.u32;
  w.block(`for (var t = 0u; t < ${TM * TN * (perVec4 ? 1 : 4)}u; t = t + 1u) {`, () => {
    const t = E.named("t", "u32");
    const tile = perVec4 ? t : w.let(E.div(t, u(4)), "tile");
    const i = w.let(E.div(tile, u(TN)), "i");
    const j = w.let(E.mod(tile, u(TN)), "j");
    const m = w.let(o.rowOf(i), "mo");
    const gi = w.let(o.groupOf(j), "g");
    const acc = w.let(E.element("results", tile, "vec4f", true), "accv");
    const stores = (): void => {
      for (const e of perVec4 ? [0, 1, 2, 3].map(u) : [w.let(E.mod(t, u(4)), "e")]) {
        const n = w.let(E.add(E.mul(gi, u(4)), e), "no");
        const write = (): void => {
          w.overrides.set(core.id, E.lane(acc, e));
          storeOutput(w, root, o.batch, m, n);
        };
        if (whole) write();
        else w.block(`if (${E.lt(n, nDim)}) {`, write);
      }
    };
    // With N a multiple of 4, a group inside N is four columns inside it.
    const inN = whole ? E.lt(gi, u((o.N as number) / 4)) : E.lt(E.mul(gi, u(4)), nDim);
    w.block(`if (${E.and(E.lt(m, mDim), inN)}) {`, stores);
  });
  w.overrides.delete(core.id);
}

/**
 * Stores the kernel's output for the core's row m, column n (the core's value set in `w.overrides`).
 * With prefix rows (KernelGroup.prefixRows, a class token in front) that is the root's row m + prefix,
 * and the invocation of row 0 also writes the rows in front, whose values read no accumulator.
 */
export function storeOutput(w: KernelWriter, root: Node, batch: readonly Expr[], m: Expr, n: Expr): void {
  const prefix = w.group.prefixRows;
  const write = (row: Expr): void => {
    const coords = [...batch, row, n];
    w.store(w.offset(root.shape, coords), w.value(root.id, coords));
  };
  if (prefix === 0) {
    write(m);
    return;
  }
  write(w.let(E.add(m, E.u32(prefix)), "row"));
  w.block(`if (${E.compare("==", m, E.u32(0))}) {`, () => {
    const p = w.fresh("p");
    w.block(`for (var ${p} = 0u; ${p} < ${prefix}u; ${p} = ${p} + 1u) {`, () => write(E.named(p, "u32")));
  });
}
