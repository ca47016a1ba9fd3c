import { dimCeilDiv as ceilDiv } from "../../core/dims.ts";
import { onlineSoftmaxStep, segmentOf } from "./attention-parts.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import type { StagedAttentionTiling } from "./tiling.ts";
import { F32_LOWEST, floatLiteral, type Code, type KernelWriter } from "./writer.ts";

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
  const channel = (d: Code): Code => `(h * ${dh}u + ${d})`;
  const causal = op.causal;
  const strided = (count: number, body: (e: Code) => void): void =>
    w.block(`for (var e = lid.x; e < ${count}u; e = e + ${NT}u) {`, () => body("e"));

  w.line("let h = wid.y;");
  w.line("let b = wid.z;");
  w.line(`let tileStart = wid.x * ${TQ}u;`);
  const firstQuery = w.let(`min(tileStart, ${tDim} - 1u)`, "t");
  const lastQuery = w.let(`min(tileStart + ${TQ - 1}u, ${tDim} - 1u)`, "t");
  const first = segmentOf(w, segId, firstQuery, sDim).start;
  const lastSegment = segmentOf(w, segId, lastQuery, sDim).end;
  const last = causal ? w.let(`min(${lastSegment}, ${lastQuery} + 1u)`, "last") : lastSegment;

  // The tile's queries (past the end: the last one again, never stored), each query's key range, its statistics.
  strided(TQ * dh, (e) => {
    const t = w.let(`min(tileStart + ${e} / ${dh}u, ${tDim} - 1u)`, "tq");
    w.line(`qTile[${e}] = ${w.value(qId, ["b", t, channel(`${e} % ${dh}u`)])};`);
  });
  w.block(`if (lid.x < ${TQ}u) {`, () => {
    w.line(`runMax[lid.x] = ${F32_LOWEST};`);
    w.line("runSum[lid.x] = 0.0;");
    if (segId !== undefined) {
      const own = segmentOf(w, segId, `min(tileStart + lid.x, ${tDim} - 1u)`, sDim);
      w.line(`keyRange[lid.x] = vec2<u32>(${own.start}, ${own.end});`);
    }
  });

  // This invocation's outputs: element lid.x + r * NT of the tile's queries x channels.
  const rounds = Math.ceil((TQ * dh) / NT);
  const outs = Array.from({ length: rounds }, (_, r) => {
    const e = `(lid.x + ${r * NT}u)`;
    const element = w.let(`min(${e}, ${TQ * dh - 1}u)`, "oe");
    return { acc: `out${r}`, live: `${e} < ${TQ * dh}u`, query: w.let(`${element} / ${dh}u`, "oq"), d: w.let(`${element} % ${dh}u`, "od") };
  });
  for (const o of outs) w.line(`var ${o.acc} = 0.0;`);
  w.line("workgroupBarrier();");

  const stage = (id: number): void =>
    strided(KB * dh, (e) => {
      const key = w.let(`${e} / ${dh}u`, "j");
      const c = w.let(`${e} % ${dh}u`, "c");
      w.line(`kv[${key} * ${row}u + ${c}] = ${w.value(id, ["b", `min(kb + ${key}, ${sDim} - 1u)`, channel(c)])};`);
    });

  const scale = floatLiteral(op.scale);
  w.block(`for (var kb = (${first} / ${KB}u) * ${KB}u; kb < ${last}; kb = kb + ${KB}u) {`, () => {
    stage(kId);
    w.line("workgroupBarrier();");

    strided(TQ * KB, (e) => {
      const i = w.let(`${e} / ${KB}u`, "i");
      const key = w.let(`${e} % ${KB}u`, "j");
      const s = w.let(`kb + ${key}`, "s");
      const t = w.let(`tileStart + ${i}`, "tq");
      w.line("var dot = 0.0;");
      w.block(`for (var c = 0u; c < ${dh}u; c = c + 1u) {`, () =>
        w.line(`dot = fma(qTile[${i} * ${dh}u + c], kv[${key} * ${row}u + c], dot);`),
      );
      let score: Code = `dot * ${scale}`;
      if (op.relative) {
        // Decomposed relative positions: the key's row and column in its KH x KW grid pick one bias each.
        const [rowId, colId] = core.inputs.slice(-2);
        const kw = (g.nodes[colId].shape[2] as number) / heads;
        const kh = (g.nodes[rowId].shape[2] as number) / heads;
        const [tc, sc] = [w.let(`min(${t}, ${tDim} - 1u)`, "tc"), w.let(`min(${s}, ${sDim} - 1u)`, "sc")];
        score = `${score} + ${w.value(rowId, ["b", tc, `(h * ${kh}u + ${sc} / ${kw}u)`])} + ${w.value(colId, ["b", tc, `(h * ${kw}u + ${sc} % ${kw}u)`])}`;
      }
      const sees = [`${s} < ${sDim}`];
      if (segId !== undefined) sees.push(`${s} >= keyRange[${i}].x`, `${s} < keyRange[${i}].y`);
      if (causal) sees.push(`${s} <= ${t}`);
      w.line(`probs[${e}] = select(${F32_LOWEST}, ${score}, ${sees.join(" && ")});`);
    });
    w.line("workgroupBarrier();");

    // The values replace the keys while one invocation per query turns its scores into probabilities.
    stage(vId);
    w.block(`if (lid.x < ${TQ}u) {`, () => onlineSoftmaxStep(w, KB, (key) => `probs[lid.x * ${KB}u + ${key}]`));
    w.line("workgroupBarrier();");

    for (const o of outs) w.line(`${o.acc} = ${o.acc} * rescale[${o.query}];`);
    w.block(`for (var j = 0u; j < ${KB}u; j = j + 1u) {`, () => {
      for (const o of outs) w.line(`${o.acc} = fma(probs[${o.query} * ${KB}u + j], kv[j * ${row}u + ${o.d}], ${o.acc});`);
    });
    w.line("workgroupBarrier();");
  });

  for (const o of outs) {
    w.block(`if (${o.live} && tileStart + ${o.query} < ${tDim}) {`, () => {
      w.store(w.offset(core.shape, ["b", `tileStart + ${o.query}`, channel(o.d)]), `${o.acc} / runSum[${o.query}]`);
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
