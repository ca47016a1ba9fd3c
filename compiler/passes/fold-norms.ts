import { GraphBuilder } from "../ir/builder.ts";
import { dimsEqual, type Dim } from "../../core/dims.ts";
import { consumersOf, type Graph, type Node } from "../../core/graph.ts";
import { rebuild } from "./rebuild.ts";

/**
 * A matmul operand of the form (x - s) · r · g + b, with s and r per row of x (statistics) and g, b per
 * column and computed from parameters only: LayerNorm and RMSNorm feeding a linear layer.
 */
interface NormalizedOperand {
  x: number;
  shift: number | null;
  rowScales: number[];
  gains: number[];
  offset: number | null;
}

/** Nodes whose value depends on parameters and constants only, with a fixed shape (computable once, at load time). */
export function parameterOnly(g: Graph): boolean[] {
  const out: boolean[] = [];
  for (const n of g.nodes) {
    const fixedShape = n.shape.every((d) => typeof d === "number");
    out[n.id] =
      n.op.kind === "param" ||
      n.op.kind === "const" ||
      (fixedShape && n.op.kind !== "input" && n.inputs.length > 0 && n.inputs.every((i) => out[i]));
  }
  return out;
}

const isMul = (n: Node): boolean => n.op.kind === "binary" && n.op.fn === "mul";

function sameShape(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => dimsEqual(d, b[i]));
}

function decompose(g: Graph, fixed: boolean[], a: Node): NormalizedOperand | null {
  const shape = a.shape;
  const k = shape[shape.length - 1];
  const perRow = (n: Node): boolean => !fixed[n.id] && sameShape(n.shape, [...shape.slice(0, -1), 1]);
  const perColumn = (n: Node): boolean => fixed[n.id] && (n.shape.length === 0 || (n.shape.length === 1 && dimsEqual(n.shape[0], k)));
  const full = (n: Node): boolean => sameShape(n.shape, shape);

  let product = a;
  let offset: number | null = null;
  if (a.op.kind === "binary" && a.op.fn === "add") {
    const [l, r] = a.inputs.map((i) => g.nodes[i]);
    if (perColumn(r) && full(l)) [product, offset] = [l, r.id];
    else if (perColumn(l) && full(r)) [product, offset] = [r, l.id];
  }
  const factors: Node[] = [];
  const flatten = (n: Node): void => {
    if (isMul(n) && full(n)) n.inputs.forEach((i) => flatten(g.nodes[i]));
    else factors.push(n);
  };
  flatten(product);
  const main = factors.filter(full);
  const rowScales = factors.filter(perRow).map((n) => n.id);
  const gains = factors.filter(perColumn).map((n) => n.id);
  if (main.length !== 1 || rowScales.length + gains.length + main.length !== factors.length) return null;
  let x = main[0];
  let shift: number | null = null;
  if (x.op.kind === "binary" && x.op.fn === "sub" && perRow(g.nodes[x.inputs[1]]) && full(g.nodes[x.inputs[0]])) {
    shift = x.inputs[1];
    x = g.nodes[x.inputs[0]];
  }
  if (shift === null && rowScales.length === 0) return null;
  return { x: x.id, shift, rowScales, gains, offset };
}

const isLastAxisMean = (m: Node): boolean => m.op.kind === "reduce" && m.op.fn === "mean" && m.op.axis === m.shape.length - 1;

/** mean((x - mean(x))^2) over the last axis: a two-pass variance of x. */
function twoPassVariance(g: Graph, n: Node, x: number): number | null {
  const last = isLastAxisMean;
  if (!last(n)) return null;
  const sq = g.nodes[n.inputs[0]];
  if (!isMul(sq) || sq.inputs[0] !== sq.inputs[1]) return null;
  const d = g.nodes[sq.inputs[0]];
  if (d.op.kind !== "binary" || d.op.fn !== "sub" || d.inputs[0] !== x) return null;
  const mean = g.nodes[d.inputs[1]];
  return last(mean) && mean.inputs[0] === x ? mean.id : null;
}

/**
 * Whether the normalisation depends on x only through its row mean and variance (a LayerNorm), so it
 * gives the same result for x minus any per-row constant.
 */
function shiftInvariant(g: Graph, fixed: boolean[], fold: NormalizedOperand): boolean {
  if (fold.shift === null) return false;
  const isMean = (n: Node): boolean => isLastAxisMean(n) && n.inputs[0] === fold.x;
  if (!isMean(g.nodes[fold.shift])) return false;
  const ok = (id: number): boolean => {
    const n = g.nodes[id];
    if (fixed[id] || isMean(n) || twoPassVariance(g, n, fold.x) !== null) return true;
    return (n.op.kind === "unary" || n.op.kind === "binary") && n.inputs.every(ok);
  };
  return fold.rowScales.every(ok);
}

/**
 * Moves a normalisation that feeds a linear layer past the matmul, using
 *   ((x - s) r g + b) W^T = r (x (W g)^T) - (r s) colsum(W g) + b W^T,
 * so the matmul reads x as it is and the row statistics are applied in its epilogue. W g, its row sums
 * and b W^T depend on parameters only and are computed once when the weights are loaded. Two-pass
 * variances of x become mean(x^2) - mean(x)^2, so every statistic is a sum the matmul can accumulate
 * over the same loads of x (exact in real arithmetic; in f32 it loses accuracy only when |mean| is many
 * times the standard deviation, which the rows of a residual stream are not).
 */
export function foldNormsIntoLinears(g: Graph): Graph {
  const consumers = consumersOf(g);
  const fixed = parameterOnly(g);
  const folds = new Map<number, NormalizedOperand>();
  for (const n of g.nodes) {
    if (n.op.kind !== "matmul" || !fixed[n.inputs[1]] || fixed[n.inputs[0]] || g.nodes[n.inputs[1]].shape.length !== 2) continue;
    const a = g.nodes[n.inputs[0]];
    if (n.inputs[0] === n.inputs[1] || g.outputs.some((o) => o.node === a.id)) continue;
    // Only when nothing else needs the normalised values, or they would be computed twice.
    if (!consumers[a.id].every((c) => g.nodes[c].op.kind === "matmul" && g.nodes[c].inputs[0] === a.id && fixed[g.nodes[c].inputs[1]]))
      continue;
    const fold = decompose(g, fixed, a);
    if (fold) folds.set(n.id, fold);
  }
  if (folds.size === 0) return g;

  const b = new GraphBuilder(g.name);
  const replaced = new Map<number, number>();
  return rebuild(g, b, replaced, (mm, map) => {
    const fold = folds.get(mm.id);
    if (!fold) return false;
    // A LayerNorm reads x minus its row's first element: the same normalisation, but the sums the
    // matmul accumulates no longer carry the row mean, which would cancel in f32 when it is large.
    b.source = g.nodes[fold.x].source;
    const shifted = shiftInvariant(g, fixed, fold);
    const x = shifted ? b.binary("sub", map(fold.x), b.slice(map(fold.x), -1, 0, 1)) : map(fold.x);
    const xMean = shifted ? b.reduce("mean", x, -1) : null;
    // Per-row expressions rebuilt with one-pass variances of x.
    const rebuilt = new Map<number, number>();
    const rowValue = (id: number): number => {
      const hit = rebuilt.get(id);
      if (hit !== undefined) return hit;
      const n = g.nodes[id];
      b.source = n.source;
      const mean = twoPassVariance(g, n, fold.x);
      let out: number;
      if (xMean !== null && isLastAxisMean(n) && n.inputs[0] === fold.x) {
        out = xMean;
      } else if (mean !== null) {
        const mu = xMean ?? map(mean);
        const meanSquare = b.reduce("mean", b.binary("mul", x, x), -1);
        out = b.binary("max", b.binary("sub", meanSquare, b.binary("mul", mu, mu)), b.constant(0));
      } else if ((n.op.kind === "unary" || n.op.kind === "binary") && !fixed[id]) {
        const inputs = n.inputs.map(rowValue);
        out = n.op.kind === "unary" ? b.unary(n.op.fn, inputs[0]) : b.binary(n.op.fn, inputs[0], inputs[1]);
      } else {
        out = map(id);
      }
      rebuilt.set(id, out);
      return out;
    };
    const scale = fold.rowScales.map(rowValue).reduce<number | null>((acc, r) => (acc === null ? r : b.binary("mul", acc, r)), null);
    b.source = mm.source;
    const w = map(mm.inputs[1]);
    const gain = fold.gains.map(map).reduce<number | null>((acc, v) => (acc === null ? v : b.binary("mul", acc, v)), null);
    const scaledW = gain === null ? w : b.binary("mul", w, gain);
    let y = b.matmul(x, scaledW);
    if (scale !== null) y = b.binary("mul", y, scale);
    const n = g.nodes[mm.inputs[1]].shape[0];
    if (fold.shift !== null) {
      const columnSums = b.reshape(b.reduce("sum", scaledW, -1), [n]);
      const shift = rowValue(fold.shift);
      const shiftScaled = scale === null ? shift : b.binary("mul", scale, shift);
      b.source = mm.source;
      y = b.binary("sub", y, b.binary("mul", shiftScaled, columnSums));
    }
    if (fold.offset !== null) {
      const offset = map(fold.offset);
      const k = g.nodes[fold.x].shape.at(-1) as Dim;
      const row = b.node(offset).shape.length === 0 ? b.broadcastTo(offset, [1, k]) : b.reshape(offset, [1, k]);
      y = b.binary("add", y, b.reshape(b.matmul(row, w), [n]));
    }
    replaced.set(mm.id, y);
    return true;
  });
}
