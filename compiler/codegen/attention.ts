import { dimCeilDiv as ceilDiv, type Dim } from "../../core/dims.ts";
import { onlineSoftmaxStep, segmentOf as segmentRange } from "./attention-parts.ts";
import { finish, type KernelCode } from "./kernel-code.ts";
import { SHUFFLE_LANES, type AttentionTiling } from "./tiling.ts";
import { F32_LOWEST, floatLiteral, type Code, type KernelWriter } from "./writer.ts";

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
  const vec = lanes === 4 ? "vec4<f32>" : "f32";
  const channel = (d: Code): Code => `(h * ${dh}u + ${d})`;
  const rows = Array.from({ length: TQ }, (_, i) => i);
  // Values every invocation needs (a query's channels, a query's probabilities) loaded once, by the
  // query's own lane, and taken from it by subgroupBroadcast: on lavapipe a load costs a loop over
  // the SIMD lanes even where they all read one address, a broadcast a register move.
  const viaLanes = tiling.shared === "shuffle" && TQ <= SHUFFLE_LANES && !viaOutput;
  if (viaLanes) w.enables.add("subgroups");
  const fromLane = (own: Code, i: number): Code => w.let(`subgroupBroadcast(${own}, ${i}u)`, "q");

  w.line("let h = wid.y;");
  w.line("let b = wid.z;");
  w.line(`let tileStart = wid.x * ${TQ}u;`);
  // The tile's queries, clamped: past the end a query repeats the last one and is never stored.
  const ts = rows.map((i) => w.let(`min(tileStart + ${i}u, ${tDim} - 1u)`, "t"));
  const ownQuery = viaLanes ? w.let(`min(tileStart + sgLane % ${TQ}u, ${tDim} - 1u)`, "tOwn") : "";
  const live = rows.map((i) => `tileStart + ${i}u < ${tDim}`);

  // Each query's keys: [start, end) of its segment, cut after the query itself when causal. Segments
  // are contiguous and in order, so the tile's keys run from its first query's segment start to its
  // last query's segment end; each query's own range is looked up once, by its lane, into `keyRange`.
  const segId = core.op.segmented ? core.inputs[3] : undefined;
  const segmentOf = (t: Code): { start: Code; end: Code } => segmentRange(w, segId, t, sDim);
  const first = segmentOf(ts[0]).start;
  const lastSegment = segmentOf(ts[TQ - 1]).end;
  const last = core.op.causal ? w.let(`min(${lastSegment}, ${ts[TQ - 1]} + 1u)`, "last") : lastSegment;
  const causal = core.op.causal;
  // Each query's key range, read from workgroup memory once (after the barrier below), not per score.
  const keyRanges: Code[] = [];
  const sees = (i: number, s: Code): Code => {
    const conditions = [`${s} < ${sDim}`];
    if (segId !== undefined) conditions.push(`${s} >= ${keyRanges[i]}.x`, `${s} < ${keyRanges[i]}.y`);
    if (causal) conditions.push(`${s} <= ${ts[i]}`);
    return conditions.join(" && ");
  };
  if (segId !== undefined) {
    w.block(`if (lid.x < ${TQ}u) {`, () => {
      const own = segmentOf(`min(tileStart + lid.x, ${tDim} - 1u)`);
      w.line(`keyRange[lid.x] = vec2<u32>(${own.start}, ${own.end});`);
    });
  }

  // Where the probability of query row `i` (at token `t`) for key `key` of the block lives.
  // In workgroup memory as vec4s, so the output phase loads four keys' probabilities at once.
  const quads = step === 4 && !viaOutput;
  const probAt = (i: Code, t: Code, key: Code): Code => {
    if (viaOutput) return `out[${w.offset(core.shape, ["b", t, channel(key)])}]`;
    return quads ? `probs[(${i} * ${KB}u + ${key}) / 4u][(${key}) % 4u]` : `probs[${i} * ${KB}u + ${key}]`;
  };
  const prob = (i: number, key: Code): Code => probAt(`${i}u`, ts[i], key);
  const barrier = viaOutput ? "storageBarrier();\n  workgroupBarrier();" : "workgroupBarrier();";

  w.block(`if (lid.x < ${TQ}u) {`, () => {
    w.line(`runMax[lid.x] = ${F32_LOWEST};`);
    w.line("runSum[lid.x] = 0.0;");
  });
  w.line("workgroupBarrier();");
  if (segId !== undefined) for (const i of rows) keyRanges.push(w.let(`keyRange[${i}]`, "range"));
  const groups = dh / lanes;
  const rounds = Math.ceil(groups / threads);
  const outs = rows.map((i) => Array.from({ length: rounds }, (_, r) => `out${i}_${r}`));
  for (const o of outs.flat()) w.line(`var ${o} = ${vec}(0.0);`);

  const scale = floatLiteral(core.op.scale);
  w.block(`for (var kb = (${first} / ${KB}u) * ${KB}u; kb < ${last}; kb = kb + ${KB}u) {`, () => {
    // Scores: this invocation's keys against every query of the tile.
    const keysPer = KB / threads;
    const mine = Array.from({ length: keysPer }, (_, x) => x);
    const ss = mine.map((x) => w.let(`kb + lid.x * ${keysPer}u + ${x}u`, "s"));
    const scs = ss.map((s) => w.let(`min(${s}, ${sDim} - 1u)`, "sc"));
    const accs = rows.map((i) => mine.map((x) => `score${i}_${x}`));
    for (const a of accs.flat()) w.line(`var ${a} = ${vec}(0.0);`);
    w.block(`for (var c = 0u; c < ${dh / lanes}u; c = c + 1u) {`, () => {
      const load = (id: number, t: Code): Code =>
        lanes === 4 ? w.valueVec4(id, ["b", t, channel("c * 4u")]) : w.value(id, ["b", t, channel("c")]);
      const ks = scs.map((sc) => load(kId, sc));
      const qOwn = viaLanes ? w.let(load(qId, ownQuery), "qOwn") : "";
      rows.forEach((i) => {
        const q = viaLanes ? fromLane(qOwn, i) : load(qId, ts[i]);
        mine.forEach((x) => w.line(`${accs[i][x]} = fma(${q}, ${ks[x]}, ${accs[i][x]});`));
      });
    });
    rows.forEach((i) =>
      mine.forEach((x) => {
        const a = accs[i][x];
        let score: Code = `${lanes === 4 ? `((${a}.x + ${a}.y) + (${a}.z + ${a}.w))` : a} * ${scale}`;
        if (core.op.kind === "attention" && core.op.relative) {
          // Decomposed relative positions: the key's row and column in its KH x KW grid pick one bias each.
          const [rowId, colId] = core.inputs.slice(-2);
          const kw = (g.nodes[colId].shape[2] as number) / heads;
          const kh = (g.nodes[rowId].shape[2] as number) / heads;
          score = `${score} + ${w.value(rowId, ["b", ts[i], `(h * ${kh}u + ${scs[x]} / ${kw}u)`])} + ${w.value(colId, ["b", ts[i], `(h * ${kw}u + ${scs[x]} % ${kw}u)`])}`;
        }
        const write = `${prob(i, `lid.x * ${keysPer}u + ${x}u`)} = select(${F32_LOWEST}, ${score}, ${sees(i, ss[x])});`;
        w.line(viaOutput ? `if (${live[i]}) { ${write} }` : write);
      }),
    );
    w.line(barrier);

    // Online softmax, one invocation per query: the block's maximum, the rescale of the blocks before,
    // the probabilities (0 for masked keys) and their sum.
    w.block(`if (lid.x < ${TQ}u && tileStart + lid.x < ${tDim}) {`, () => {
      const t = w.let(`tileStart + lid.x`, "tq");
      onlineSoftmaxStep(w, KB, (key) => probAt("lid.x", t, key));
    });
    w.line(barrier);

    // Output: this invocation's channel groups (`lanes` channels each), `step` keys at a time.
    rows.forEach((i) => outs[i].forEach((o) => w.line(`${o} = ${o} * rescale[${i}];`)));
    w.block(`for (var j = 0u; j < ${KB}u; j = j + ${step}u) {`, () => {
      const keys = Array.from({ length: step }, (_, x) => x);
      const svs = keys.map((x) => w.let(`min(kb + j + ${x}u, ${sDim} - 1u)`, "sv"));
      const pOwn = viaLanes && quads ? w.let(`probs[(sgLane % ${TQ}u) * ${KB / 4}u + j / 4u]`, "pOwn") : "";
      const ps = rows.map((i) => {
        if (!quads) return keys.map((x) => w.let(prob(i, `j + ${x}u`), "p"));
        const four = viaLanes ? fromLane(pOwn, i) : w.let(`probs[${(i * KB) / 4}u + j / 4u]`, "p");
        return ["x", "y", "z", "w"].map((c) => `${four}.${c}`);
      });
      for (let r = 0; r < rounds; r++) {
        const d = w.let(`min(lid.x + ${r * threads}u, ${groups - 1}u) * ${lanes}u`, "d");
        const vs = svs.map((sv) => (lanes === 4 ? w.valueVec4(vId, ["b", sv, channel(d)]) : w.value(vId, ["b", sv, channel(d)])));
        rows.forEach((i) =>
          w.line(`${outs[i][r]} = ${keys.reduce((acc, x) => `fma(${vec}(${ps[i][x]}), ${vs[x]}, ${acc})`, outs[i][r])};`),
        );
      }
    });
    w.line(barrier);
  });

  for (let r = 0; r < rounds; r++) {
    w.block(`if (lid.x + ${r * threads}u < ${groups}u) {`, () => {
      rows.forEach((i) => {
        w.block(`if (${live[i]}) {`, () => {
          for (let c = 0; c < lanes; c++) {
            const value = lanes === 4 ? `${outs[i][r]}[${c}]` : outs[i][r];
            w.store(
              w.offset(core.shape, ["b", ts[i], channel(`((lid.x + ${r * threads}u) * ${lanes}u + ${c}u)`)]),
              `${value} / runSum[${i}]`,
            );
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
