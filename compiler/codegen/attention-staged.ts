import { dimCeilDiv as ceilDiv } from "../../core/dims.ts";
import { ATTENTION_NAMES, channelOf, keyRangeOf, onlineSoftmaxStep, seesKey, segmentOf, withRelativeBias } from "./attention-parts.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import type { StagedAttentionTiling } from "./tiling.ts";
import { F32_LOWEST, type KernelWriter } from "./writer.ts";

/** WebGPU's guaranteed workgroup memory (maxComputeWorkgroupStorageSize's default). */
const WORKGROUP_BYTES = 16384;

/** Workgroup bytes of a tile: queries, one key (or value) block with padded rows, probabilities, row statistics. */
export function stagedBytes(queries: number, keys: number, width: number, segmented: boolean): number {
  return 4 * (queries * width + keys * (width + 1) + queries * keys + 3 * queries) + (segmented ? 8 * queries : 0);
}

/** The tiling's queries and keys, halved (keys first, down to 8) until the tile fits the guaranteed workgroup memory. */
export function fitStaged(t: StagedAttentionTiling, width: number, segmented: boolean): { queries: number; keys: number } {
  let { queries, keys } = t;
  while (stagedBytes(queries, keys, width, segmented) > WORKGROUP_BYTES) {
    if (keys > 8) keys /= 2;
    else if (queries > 1) queries /= 2;
    else break;
  }
  return { queries, keys };
}

/**
 * Attention for GPUs, flash attention's order of work with its operands in workgroup memory: one
 * workgroup per (batch, head, tile of queries). The tile's queries are loaded once; for each block of
 * keys every invocation helps load the block (consecutive invocations, consecutive channels), then
 * computes some of the tile's queries x keys scores (consecutive invocations take consecutive keys of
 * one query: key rows padded to an odd stride, so no two read one bank); one invocation per query
 * updates the online softmax while the others load the value block into the same memory; then each
 * invocation accumulates its output channels (consecutive channels of one query) over the block.
 * Nothing depends on the subgroup size. Segments and the causal mask limit each query's keys, and a
 * tile visits only the key blocks some of its queries can see; relative-position biases are added to
 * the scores.
 */
export function stagedAttentionKernel(w: KernelWriter, tiling: StagedAttentionTiling): KernelCode {
  const { graph: g, group } = w;
  const core = g.nodes[group.root];
  const op = core.op;
  if (op.kind !== "attention") throw new Error("internal: attention kernel without attention root");
  const [qId, kId, vId] = core.inputs;
  const [B, T, D] = core.shape;
  const S = g.nodes[kId].shape[1];
  const heads = op.heads;
  const dh = (D as number) / heads;
  const segId = op.segmented ? core.inputs[3] : undefined;
  const { queries: TQ, keys: KB } = fitStaged(tiling, dh, segId !== undefined);
  const NT = tiling.threads;
  const row = dh + 1;
  const [tDim, sDim] = [w.dim(T), w.dim(S)];
  const channel = channelOf(dh);
  const causal = op.causal;
  const u = E.u32;
  const { b, tileStart, lid, kb, j } = ATTENTION_NAMES;
  const e = E.named("e", "u32");
  const strided = (count: number, body: () => void): void => w.block(`for (var e = lid.x; e < ${count}u; e = e + ${NT}u) {`, body);
  const lastToken = E.sub(tDim, u(1));
  const lastKey = E.sub(sDim, u(1));

  w.line("let h = wid.y;");
  w.line("let b = wid.z;");
  w.line(`let tileStart = wid.x * ${TQ}u;`);
  const firstQuery = w.let(E.min(tileStart, lastToken), "t");
  const lastQuery = w.let(E.min(E.add(tileStart, u(TQ - 1)), lastToken), "t");
  const first = segmentOf(w, segId, firstQuery, sDim).start;
  const lastSegment = segmentOf(w, segId, lastQuery, sDim).end;
  const last = causal ? w.let(E.min(lastSegment, E.add(lastQuery, u(1))), "last") : lastSegment;

  // The tile's queries (past the end: the last one again, never stored), each query's key range, its statistics.
  strided(TQ * dh, () => {
    const t = w.let(E.min(E.add(tileStart, E.div(e, u(dh))), lastToken), "tq");
    w.line(`qTile[e] = ${w.value(qId, [b, t, channel(E.mod(e, u(dh)))])};`);
  });
  w.block(`if (lid.x < ${TQ}u) {`, () => {
    w.line(`runMax[lid.x] = ${F32_LOWEST};`);
    w.line("runSum[lid.x] = 0.0;");
    if (segId !== undefined) {
      const own = segmentOf(w, segId, E.min(E.add(tileStart, lid), lastToken), sDim);
      w.line(`keyRange[lid.x] = vec2<u32>(${own.start}, ${own.end});`);
    }
  });

  // This invocation's outputs: element lid.x + r * NT of the tile's queries x channels.
  const rounds = Math.ceil((TQ * dh) / NT);
  const outs = Array.from({ length: rounds }, (_, r) => {
    const index = E.add(lid, u(r * NT));
    const element = w.let(E.min(index, u(TQ * dh - 1)), "oe");
    return {
      acc: E.variable(`out${r}`, "f32"),
      live: E.lt(index, u(TQ * dh)),
      query: w.let(E.div(element, u(dh)), "oq"),
      d: w.let(E.mod(element, u(dh)), "od"),
    };
  });
  for (const o of outs) w.line(`var ${o.acc} = 0.0;`);
  w.line("workgroupBarrier();");

  const kvAt = (key: Expr, c: Expr): Expr => E.element("kv", E.add(E.mul(key, u(row)), c), "f32", true);
  const stage = (id: number): void =>
    strided(KB * dh, () => {
      const key = w.let(E.div(e, u(dh)), "j");
      const c = w.let(E.mod(e, u(dh)), "c");
      w.line(`${kvAt(key, c)} = ${w.value(id, [b, E.min(E.add(kb, key), lastKey), channel(c)])};`);
    });

  const scale = E.f32(op.scale);
  w.block(`for (var kb = ${E.mul(E.div(first, u(KB)), u(KB))}; kb < ${last}; kb = kb + ${KB}u) {`, () => {
    stage(kId);
    w.line("workgroupBarrier();");

    strided(TQ * KB, () => {
      const i = w.let(E.div(e, u(KB)), "i");
      const key = w.let(E.mod(e, u(KB)), "j");
      const s = w.let(E.add(kb, key), "s");
      const t = w.let(E.add(tileStart, i), "tq");
      const c = E.named("c", "u32");
      w.line("var dot = 0.0;");
      w.block(`for (var c = 0u; c < ${dh}u; c = c + 1u) {`, () =>
        w.line(`dot = fma(${E.element("qTile", E.add(E.mul(i, u(dh)), c), "f32", true)}, ${kvAt(key, c)}, dot);`),
      );
      const dot = E.variable("dot", "f32");
      const score = op.relative
        ? withRelativeBias(w, core, E.mul(dot, scale), w.let(E.min(t, lastToken), "tc"), w.let(E.min(s, lastKey), "sc"))
        : E.mul(dot, scale);
      const sees = seesKey(s, t, sDim, segId !== undefined ? keyRangeOf(w, i) : null, causal);
      w.line(`probs[e] = ${E.select(F32_LOWEST, score, sees)};`);
    });
    w.line("workgroupBarrier();");

    // The values replace the keys while one invocation per query turns its scores into probabilities.
    stage(vId);
    w.block(`if (lid.x < ${TQ}u) {`, () =>
      onlineSoftmaxStep(w, KB, (key) => E.element("probs", E.add(E.mul(lid, u(KB)), key), "f32", true)),
    );
    w.line("workgroupBarrier();");

    for (const o of outs) w.line(`${o.acc} = ${o.acc} * rescale[${o.query}];`);
    w.block(`for (var j = 0u; j < ${KB}u; j = j + 1u) {`, () => {
      for (const o of outs)
        w.line(`${o.acc} = fma(${E.element("probs", E.add(E.mul(o.query, u(KB)), j), "f32", true)}, ${kvAt(j, o.d)}, ${o.acc});`);
    });
    w.line("workgroupBarrier();");
  });

  for (const o of outs) {
    const query = E.add(tileStart, o.query);
    w.block(`if (${E.and(o.live, E.lt(query, tDim))}) {`, () => {
      w.store(w.offset(core.shape, [b, query, channel(o.d)]), E.div(o.acc, E.element("runSum", o.query, "f32", true)));
    });
  }
  const body = w.takeBody();
  const ranges = segId !== undefined ? `var<workgroup> keyRange: array<vec2<u32>, ${TQ}>;\n` : "";
  const entry = `var<workgroup> qTile: array<f32, ${TQ * dh}>;
var<workgroup> kv: array<f32, ${KB * row}>;
var<workgroup> probs: array<f32, ${TQ * KB}>;
${ranges}var<workgroup> runMax: array<f32, ${TQ}>;
var<workgroup> runSum: array<f32, ${TQ}>;
var<workgroup> rescale: array<f32, ${TQ}>;
@compute @workgroup_size(${NT})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${body}
}`;
  return finish(w, entry, { kind: "grid", x: ceilDiv(T, TQ), y: heads, z: B });
}
