import type { Node } from "../../core/graph.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import { F32_LOWEST, type KernelWriter } from "./writer.ts";

/** Names every attention kernel declares: the head, the batch, the tile's first query, the invocation. */
export const ATTENTION_NAMES = {
  h: E.named("h", "u32"),
  b: E.named("b", "u32"),
  tileStart: E.named("tileStart", "u32"),
  lid: E.named("lid.x", "u32"),
  kb: E.named("kb", "u32"),
  j: E.named("j", "u32"),
};

/** Channel `d` of the workgroup's head, among the D = heads x dh channels of a token. */
export function channelOf(dh: number): (d: Expr) => Expr {
  return (d) => E.add(E.mul(ATTENTION_NAMES.h, E.u32(dh)), d);
}

/**
 * The [start, end) of the segment (image, window) that holds token `t`: the whole key range without
 * segments. Segments are contiguous and in order (`segId` holds their boundaries), so a tile of
 * queries sees keys from its first query's segment start to its last query's segment end.
 */
export function segmentOf(w: KernelWriter, segId: number | undefined, t: Expr, keys: Expr): { start: Expr; end: Expr } {
  const [start, end] = [w.fresh("segStart"), w.fresh("segEnd")];
  w.line(`var ${start} = 0u;`);
  w.line(`var ${end} = ${keys};`);
  if (segId !== undefined) {
    const seg = w.buffer(segId);
    w.block(`for (var i = 0u; i + 1u < ${w.dim(w.node(segId).shape[0])}; i = i + 1u) {`, () => {
      w.line(`if (${t} >= u32(${seg}[i]) && ${t} < u32(${seg}[i + 1u])) { ${start} = u32(${seg}[i]); ${end} = u32(${seg}[i + 1u]); }`);
    });
  }
  return { start: E.variable(start, "u32"), end: E.variable(end, "u32") };
}

/** Whether query token `t` sees key `s`: inside the keys, inside its segment's `range` (when segmented), not after it (causal). */
export function seesKey(s: Expr, t: Expr, keys: Expr, range: { start: Expr; end: Expr } | null, causal: boolean): Expr {
  const conditions = [E.lt(s, keys)];
  if (range) conditions.push(E.ge(s, range.start), E.lt(s, range.end));
  if (causal) conditions.push(E.compare("<=", s, t));
  return E.and(...conditions);
}

/** The segment range of query row `i`, as `keyRange[i]` holds it (a `vec2<u32>` per query of the tile). */
export function keyRangeOf(w: KernelWriter, i: Expr): { start: Expr; end: Expr } {
  const range = w.fresh("range");
  w.line(`let ${range} = keyRange[${i}];`);
  return { start: E.named(`${range}.x`, "u32"), end: E.named(`${range}.y`, "u32") };
}

/**
 * A score plus its decomposed relative-position biases: the key's row and column in its KH x KW grid
 * pick one bias each from the query token's tables (SAM's attention).
 */
export function withRelativeBias(w: KernelWriter, core: Node, score: Expr, t: Expr, s: Expr): Expr {
  const g = w.graph;
  if (core.op.kind !== "attention" || !core.op.relative) return score;
  const heads = core.op.heads;
  const [rowId, colId] = core.inputs.slice(-2);
  const kw = (g.nodes[colId].shape[2] as number) / heads;
  const kh = (g.nodes[rowId].shape[2] as number) / heads;
  const { h, b } = ATTENTION_NAMES;
  const rowBias = w.value(rowId, [b, t, E.add(E.mul(h, E.u32(kh)), E.div(s, E.u32(kw)))]);
  const colBias = w.value(colId, [b, t, E.add(E.mul(h, E.u32(kw)), E.mod(s, E.u32(kw)))]);
  return E.add(E.add(score, rowBias), colBias);
}

/**
 * One step of the online softmax for query `lid.x` of the tile, over a block of `keys` scores read and
 * written through `prob`: the block's maximum, the rescale of the blocks before (into `rescale`), the
 * probabilities (0 for masked keys, which hold F32_LOWEST) and the running sum.
 */
export function onlineSoftmaxStep(w: KernelWriter, keys: number, prob: (key: Expr) => Expr): void {
  const { j } = ATTENTION_NAMES;
  w.line(`var blockMax = ${F32_LOWEST};`);
  w.block(`for (var j = 0u; j < ${keys}u; j = j + 1u) {`, () => w.line(`blockMax = max(blockMax, ${prob(j)});`));
  w.line("let newMax = max(runMax[lid.x], blockMax);");
  w.line("var sum = 0.0;");
  w.block(`for (var j = 0u; j < ${keys}u; j = j + 1u) {`, () => {
    w.line(`let score = ${prob(j)};`);
    w.line("let p = select(0.0, exp(score - newMax), score > -3.0e38);");
    w.line(`${prob(j)} = p;`);
    w.line("sum = sum + p;");
  });
  w.line("let correction = exp(runMax[lid.x] - newMax);");
  w.line("rescale[lid.x] = correction;");
  w.line("runSum[lid.x] = runSum[lid.x] * correction + sum;");
  w.line("runMax[lid.x] = newMax;");
}
