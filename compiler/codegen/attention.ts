import { dimCeilDiv as ceilDiv, type Dim } from "../../core/dims.ts";
import {
  ATTENTION_NAMES,
  channelOf,
  keyRangeOf,
  onlineSoftmaxStep,
  seesKey,
  segmentOf as segmentRange,
  withRelativeBias,
} from "./attention-parts.ts";
import * as E from "./expr.ts";
import type { Expr } from "./expr.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import { SHUFFLE_LANES, type AttentionTiling } from "./tiling.ts";
import { F32_LOWEST, type KernelWriter } from "./writer.ts";

/**
 * Attention as two register-blocked products per block of keys, with an online softmax between them
 * (flash attention's order of work): one workgroup per (batch, head, tile of `queries` queries).
 * - scores: one invocation per key of the block, every query of the tile against its key, one
 *   accumulator per query (the queries' loads are the same for every invocation);
 * - softmax: one invocation per query, its running maximum and sum over the blocks so far;
 * - output: one invocation per channel of the head, the block's probabilities times its value rows
 *   (consecutive channels: one contiguous load per step for a SIMD group).
 * Every invocation keeps a few accumulators instead of a whole head of q and o. The probabilities pass
 * between the phases through workgroup memory, or (`scratch: "output"`) through the tile's own rows of
 * the output, which only this workgroup touches before its final stores (f32 only). On lavapipe the
 * workgroup variant, with the probabilities read four keys at a time, measured faster (ViT-B/16:
 * 30-35 ms against 50 ms per layer); which wins elsewhere is the autotuner's to find.
 * Segments (images, windows) and causal masks limit each query's keys; a tile visits only the key
 * blocks some of its queries can see. (The segment lookup was once unrolled per query of the tile: 8
 * queries' worth of it in one loop made SwiftShader's shader compiler run for minutes.)
 */
export function attentionKernel(w: KernelWriter, tiling: AttentionTiling): KernelCode {
  const { graph: g, group } = w;
  const core = g.nodes[group.root];
  if (core.op.kind !== "attention") throw new Error("internal: attention kernel without attention root");
  const { queries: TQ, threads } = tiling;
  const [qId, kId, vId] = core.inputs;
  const [B, T, D] = core.shape;
  const S = g.nodes[kId].shape[1];
  const heads = core.op.heads;
  const dh = (D as number) / heads;
  // Each invocation scores KB / threads keys. The output as scratch holds a block of probabilities per
  // query in that query's row of the head, so only where KB <= dh (and the output is f32).
  const KB = tiling.keys;
  const viaOutput = tiling.scratch === "output" && w.storage === "f32" && KB <= dh;
  const step = KB % 4 === 0 ? 4 : 1;
  const [tDim, sDim] = [w.dim(T), w.dim(S)];
  const lanes = dh % 4 === 0 ? 4 : 1;
  const vec = lanes === 4 ? "vec4f" : "f32";
  const channel = channelOf(dh);
  const u = E.u32;
  const { b, tileStart, lid, kb, j } = ATTENTION_NAMES;
  const sgLane = E.named("sgLane", "u32");
  const rows = Array.from({ length: TQ }, (_, i) => i);
  // Values every invocation needs (a query's channels, a query's probabilities) loaded once, by the
  // query's own lane, and taken from it by subgroupBroadcast: on lavapipe a load costs a loop over
  // the SIMD lanes even where they all read one address, a broadcast a register move.
  const viaLanes = tiling.shared === "shuffle" && TQ <= SHUFFLE_LANES && !viaOutput;
  if (viaLanes) w.enables.add("subgroups");
  const fromLane = (own: Expr, i: number): Expr => w.let(E.call("subgroupBroadcast", [own, u(i)], own.type), "q");
  const lastToken = E.sub(tDim, u(1));

  w.line("let h = wid.y;");
  w.line("let b = wid.z;");
  w.line(`let tileStart = wid.x * ${TQ}u;`);
  // The tile's queries, clamped: past the end a query repeats the last one and is never stored.
  const ts = rows.map((i) => w.let(E.min(E.add(tileStart, u(i)), lastToken), "t"));
  const ownQuery = viaLanes ? w.let(E.min(E.add(tileStart, E.mod(sgLane, u(TQ))), lastToken), "tOwn") : null;
  const live = rows.map((i) => E.lt(E.add(tileStart, u(i)), tDim));

  // Each query's keys: [start, end) of its segment, cut after the query itself when causal. Segments
  // are contiguous and in order, so the tile's keys run from its first query's segment start to its
  // last query's segment end; each query's own range is looked up once, by its lane, into `keyRange`.
  const segId = core.op.segmented ? core.inputs[3] : undefined;
  const segmentOf = (t: Expr): { start: Expr; end: Expr } => segmentRange(w, segId, t, sDim);
  const first = segmentOf(ts[0]).start;
  const lastSegment = segmentOf(ts[TQ - 1]).end;
  const last = core.op.causal ? w.let(E.min(lastSegment, E.add(ts[TQ - 1], u(1))), "last") : lastSegment;
  // Each query's key range, read from workgroup memory once (after the barrier below), not per score.
  const keyRanges: { start: Expr; end: Expr }[] = [];
  const sees = (i: number, s: Expr): Expr => seesKey(s, ts[i], sDim, keyRanges[i] ?? null, core.op.kind === "attention" && core.op.causal);
  if (segId !== undefined) {
    w.block(`if (lid.x < ${TQ}u) {`, () => {
      const own = segmentOf(E.min(E.add(tileStart, lid), lastToken));
      w.line(`keyRange[lid.x] = vec2<u32>(${own.start}, ${own.end});`);
    });
  }

  // Where the probability of query row `i` (at token `t`) for key `key` of the block lives.
  // In workgroup memory as vec4s, so the output phase loads four keys' probabilities at once.
  const quads = step === 4 && !viaOutput;
  const probAt = (i: Expr, t: Expr, key: Expr): Expr => {
    if (viaOutput) return E.element("out", w.offset(core.shape, [b, t, channel(key)]), "f32", true);
    const index = E.add(E.mul(i, u(KB)), key);
    if (!quads) return E.element("probs", index, "f32", true);
    return E.lane(E.element("probs", E.div(index, u(4)), "vec4f", true), E.mod(key, u(4)));
  };
  const prob = (i: number, key: Expr): Expr => probAt(u(i), ts[i], key);
  const barrier = viaOutput ? "storageBarrier();\n  workgroupBarrier();" : "workgroupBarrier();";

  w.block(`if (lid.x < ${TQ}u) {`, () => {
    w.line(`runMax[lid.x] = ${F32_LOWEST};`);
    w.line("runSum[lid.x] = 0.0;");
  });
  w.line("workgroupBarrier();");
  if (segId !== undefined) for (const i of rows) keyRanges.push(keyRangeOf(w, u(i)));
  const groups = dh / lanes;
  const rounds = Math.ceil(groups / threads);
  const outs = rows.map((i) => Array.from({ length: rounds }, (_, r) => E.variable(`out${i}_${r}`, vec)));
  for (const o of outs.flat()) w.line(`var ${o} = ${E.convert(vec, E.f32(0))};`);

  const scale = E.f32(core.op.scale);
  w.block(`for (var kb = ${E.mul(E.div(first, u(KB)), u(KB))}; kb < ${last}; kb = kb + ${KB}u) {`, () => {
    // Scores: this invocation's keys against every query of the tile.
    const keysPer = KB / threads;
    const mine = Array.from({ length: keysPer }, (_, x) => x);
    const ss = mine.map((x) => w.let(E.add(E.add(kb, E.mul(lid, u(keysPer))), u(x)), "s"));
    const scs = ss.map((s) => w.let(E.min(s, E.sub(sDim, u(1))), "sc"));
    const accs = rows.map((i) => mine.map((x) => E.variable(`score${i}_${x}`, vec)));
    for (const a of accs.flat()) w.line(`var ${a} = ${E.convert(vec, E.f32(0))};`);
    const c = E.named("c", "u32");
    w.block(`for (var c = 0u; c < ${dh / lanes}u; c = c + 1u) {`, () => {
      const load = (id: number, t: Expr): Expr =>
        lanes === 4 ? w.valueVec4(id, [b, t, channel(E.mul(c, u(4)))]) : w.value(id, [b, t, channel(c)]);
      const ks = scs.map((sc) => load(kId, sc));
      const qOwn = ownQuery ? w.let(load(qId, ownQuery), "qOwn") : null;
      rows.forEach((i) => {
        const q = qOwn ? fromLane(qOwn, i) : load(qId, ts[i]);
        mine.forEach((x) => w.line(`${accs[i][x]} = fma(${q}, ${ks[x]}, ${accs[i][x]});`));
      });
    });
    rows.forEach((i) =>
      mine.forEach((x) => {
        const a = accs[i][x];
        const at = (l: number): Expr => E.lane(a, u(l));
        const dot = lanes === 4 ? E.add(E.add(at(0), at(1)), E.add(at(2), at(3))) : a;
        const score = withRelativeBias(w, core, E.mul(dot, scale), ts[i], scs[x]);
        const write = `${prob(i, E.add(E.mul(lid, u(keysPer)), u(x)))} = ${E.select(F32_LOWEST, score, sees(i, ss[x]))};`;
        w.line(viaOutput ? `if (${live[i]}) { ${write} }` : write);
      }),
    );
    w.line(barrier);

    // Online softmax, one invocation per query: the block's maximum, the rescale of the blocks before,
    // the probabilities (0 for masked keys) and their sum.
    w.block(`if (${E.and(E.lt(lid, u(TQ)), E.lt(E.add(tileStart, lid), tDim))}) {`, () => {
      const t = w.let(E.add(tileStart, lid), "tq");
      onlineSoftmaxStep(w, KB, (key) => probAt(lid, t, key));
    });
    w.line(barrier);

    // Output: this invocation's channel groups (`lanes` channels each), `step` keys at a time.
    rows.forEach((i) => outs[i].forEach((o) => w.line(`${o} = ${o} * rescale[${i}];`)));
    w.block(`for (var j = 0u; j < ${KB}u; j = j + ${step}u) {`, () => {
      const keys = Array.from({ length: step }, (_, x) => x);
      const svs = keys.map((x) => w.let(E.min(E.add(E.add(kb, j), u(x)), E.sub(sDim, u(1))), "sv"));
      const quad = (row: Expr): Expr => E.element("probs", E.add(E.mul(row, u(KB / 4)), E.div(j, u(4))), "vec4f", true);
      const pOwn = viaLanes && quads ? w.let(quad(E.mod(sgLane, u(TQ))), "pOwn") : null;
      const ps = rows.map((i) => {
        if (!quads) return keys.map((x) => w.let(prob(i, E.add(j, u(x))), "p"));
        const four = pOwn ? fromLane(pOwn, i) : w.let(quad(u(i)), "p");
        return keys.map((x) => E.lane(four, u(x)));
      });
      for (let r = 0; r < rounds; r++) {
        const d = w.let(E.mul(E.min(E.add(lid, u(r * threads)), u(groups - 1)), u(lanes)), "d");
        const vs = svs.map((sv) => (lanes === 4 ? w.valueVec4(vId, [b, sv, channel(d)]) : w.value(vId, [b, sv, channel(d)])));
        rows.forEach((i) =>
          w.line(`${outs[i][r]} = ${keys.reduce((acc, x) => E.call("fma", [E.convert(vec, ps[i][x]), vs[x], acc], vec), outs[i][r])};`),
        );
      }
    });
    w.line(barrier);
  });

  for (let r = 0; r < rounds; r++) {
    w.block(`if (${E.lt(E.add(lid, u(r * threads)), u(groups))}) {`, () => {
      rows.forEach((i) => {
        w.block(`if (${live[i]}) {`, () => {
          for (let c = 0; c < lanes; c++) {
            const value = lanes === 4 ? E.lane(outs[i][r], u(c)) : outs[i][r];
            const d = E.add(E.mul(E.add(lid, u(r * threads)), u(lanes)), u(c));
            w.store(w.offset(core.shape, [b, ts[i], channel(d)]), E.div(value, E.element("runSum", u(i), "f32", true)));
          }
        });
      });
    });
  }
  const body = w.takeBody();
  const shared = viaOutput
    ? ""
    : quads
      ? `var<workgroup> probs: array<vec4<f32>, ${(TQ * KB) / 4}>;\n`
      : `var<workgroup> probs: array<f32, ${TQ * KB}>;\n`;
  const ranges = segId !== undefined ? `var<workgroup> keyRange: array<vec2<u32>, ${TQ}>;\n` : "";
  const entry = `${shared}${ranges}var<workgroup> runMax: array<f32, ${TQ}>;
var<workgroup> runSum: array<f32, ${TQ}>;
var<workgroup> rescale: array<f32, ${TQ}>;
@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>${viaLanes ? ", @builtin(subgroup_invocation_id) sgLane: u32" : ""}) {
${body}
}`;
  const x: Dim = ceilDiv(T, TQ);
  return finish(w, entry, { kind: "grid", x, y: heads, z: B });
}
