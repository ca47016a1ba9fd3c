import { dimCeilDiv as ceilDiv, numel, type Dim } from "../ir/dims.ts";
import type { Graph } from "../ir/graph.ts";
import type { KernelGroup } from "../fusion/groups.ts";
import { matmulKernel } from "./matmul.ts";
import { KernelWriter, floatLiteral, statKey, type Binding, type Code, type StorageType } from "./writer.ts";

/** How many workgroups to launch, as functions of the symbolic dims. */
export type Dispatch =
  /** `count` workgroups in a line, folded into x and y when past the per-dimension limit. */
  | { kind: "linear"; count: Dim }
  | { kind: "grid"; x: Dim; y: Dim; z: Dim };

export interface KernelCode {
  wgsl: string;
  bindings: Binding[];
  uniforms: Dim[];
  dispatch: Dispatch;
}

export const POINTWISE_THREADS = 256;
export const ROW_THREADS = 64;
export const ATTENTION_THREADS = 64;

export function generateKernel(g: Graph, group: KernelGroup, storage: StorageType = "f32"): KernelCode {
  const w = new KernelWriter(g, group, storage);
  switch (group.kind) {
    case "pointwise": return pointwise(w);
    case "row": return row(w);
    case "matmul": return matmulKernel(w);
    case "attention": return attention(w);
  }
}

function finish(w: KernelWriter, entry: string, dispatch: Dispatch): KernelCode {
  return { wgsl: w.module(entry), bindings: w.bindings, uniforms: w.uniforms, dispatch };
}

function pointwise(w: KernelWriter): KernelCode {
  const { graph: g, group } = w;
  const root = g.nodes[group.root];
  const total = w.dim(numel(root.shape));
  const coords = w.unravel("i", root.shape);
  w.store("i", w.value(root.id, coords));
  const body = w.takeBody();
  const entry = `@compute @workgroup_size(${POINTWISE_THREADS})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${POINTWISE_THREADS}u;
  if (i >= ${total}) { return; }
${body}
}`;
  return finish(w, entry, { kind: "linear", count: ceilDiv(numel(root.shape), POINTWISE_THREADS) });
}

/** Reductions along `group.axis` and their elementwise neighbours: one workgroup per row, statistics in shared memory. */
function row(w: KernelWriter): KernelCode {
  const { graph: g, group } = w;
  const root = g.nodes[group.root];
  const rowShape = g.nodes[g.nodes[group.reduces[0]].inputs[0]].shape;
  const axis = group.axis;
  const len = w.dim(rowShape[axis]);
  const rowsShape = rowShape.filter((_, i) => i !== axis);
  const rows = numel(rowsShape);
  w.line(`if (rowIndex >= ${w.dim(rows)}) { return; }`);
  const lead = w.unravel("rowIndex", rowsShape);
  const at = (k: Code): Code[] => {
    const c = [...lead];
    c.splice(axis, 0, k);
    return c;
  };
  // With an inlined contraction, the reductions' input row is computed once into workgroup memory.
  const staged = group.inlined.length > 0 ? g.nodes[group.reduces[0]].inputs[0] : null;
  if (staged !== null) {
    w.block(`for (var k = lid.x; k < ${len}; k = k + ${ROW_THREADS}u) {`, () => {
      w.line(`rowBuf[k] = ${w.value(staged, at("k"))};`);
    });
    w.line("workgroupBarrier();");
    w.statOverrides.set(statKey(staged, at("k")), "rowBuf[k]");
  }
  for (const id of group.reduces) {
    const red = g.nodes[id];
    if (red.op.kind !== "reduce") continue;
    const isMax = red.op.fn === "max";
    const acc = w.fresh("acc");
    w.line(`var ${acc} = ${isMax ? "-3.402823e38" : "0.0"};`);
    w.block(`for (var k = lid.x; k < ${len}; k = k + ${ROW_THREADS}u) {`, () => {
      const v = w.value(red.inputs[0], at("k"));
      w.line(`${acc} = ${isMax ? `max(${acc}, ${v})` : `${acc} + ${v}`};`);
    });
    w.line(`red[lid.x] = ${acc};`);
    w.line("workgroupBarrier();");
    w.block(`for (var s = ${ROW_THREADS / 2}u; s > 0u; s = s >> 1u) {`, () => {
      w.line(`if (lid.x < s) { red[lid.x] = ${isMax ? "max(red[lid.x], red[lid.x + s])" : "red[lid.x] + red[lid.x + s]"}; }`);
      w.line("workgroupBarrier();");
    });
    const stat = w.fresh("stat");
    w.line(`let ${stat} = ${red.op.fn === "mean" ? `red[0] / f32(${len})` : "red[0]"};`);
    w.line("workgroupBarrier();");
    w.overrides.set(id, stat);
  }
  const fullRow = root.shape[axis] !== 1 || rowShape[axis] === 1;
  if (fullRow) {
    w.block(`for (var k = lid.x; k < ${len}; k = k + ${ROW_THREADS}u) {`, () => {
      const c = at("k");
      w.store(w.offset(root.shape, c), w.value(root.id, c));
    });
  } else {
    w.block("if (lid.x == 0u) {", () => {
      const c = at("0u");
      w.store(w.offset(root.shape, c), w.value(root.id, c));
    });
  }
  const body = w.takeBody();
  const stage = staged !== null ? `var<workgroup> rowBuf: array<f32, ${rowShape[axis] as number}>;\n` : "";
  const entry = `${stage}var<workgroup> red: array<f32, ${ROW_THREADS}>;
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let rowIndex = wid.x + wid.y * nwg.x;
${body}
}`;
  return finish(w, entry, { kind: "linear", count: rows });
}

/** One thread per (batch, head, query): online softmax over the keys with f32 running max and sum. */
function attention(w: KernelWriter): KernelCode {
  const { graph: g, group } = w;
  const core = g.nodes[group.root];
  if (core.op.kind !== "attention") throw new Error("internal: attention kernel without attention root");
  const [qId, kId, vId] = core.inputs;
  const [B, T, D] = core.shape;
  const S = g.nodes[kId].shape[1];
  const heads = core.op.heads;
  const dh = (D as number) / heads;
  w.line(`let t = wid.x * ${ATTENTION_THREADS}u + lid.x;`);
  w.line(`if (t >= ${w.dim(T)}) { return; }`);
  w.line("let h = wid.y;");
  w.line("let b = wid.z;");
  // Four channels at a time when the head width allows (vec4 loads of q, k and v). The channel loops
  // are unrolled so q and the running output stay in registers (a dynamically indexed private array
  // lives in memory on CPU Vulkan).
  const lanes = dh % 4 === 0 ? 4 : 1;
  const steps = Array.from({ length: dh / lanes }, (_, d) => d);
  const vec = lanes === 4 ? "vec4<f32>" : "f32";
  const channel = (d: number): Code => `(h * ${dh}u + ${d * lanes}u)`;
  const load = (id: number, token: Code, d: number): Code => (lanes === 4 ? w.valueVec4(id, ["b", token, channel(d)]) : w.value(id, ["b", token, channel(d)]));
  const scale = floatLiteral(core.op.scale);
  for (const d of steps) w.line(`let q${d} = ${load(qId, "t", d)} * ${scale};`);
  for (const d of steps) w.line(`var o${d} = ${vec}(0.0);`);
  w.line("var runMax = -3.402823e38;");
  w.line("var runSum = 0.0;");
  // Segments (images, windows): keys from this query's segment only.
  w.line("var keyStart = 0u;");
  w.line(`var keyEnd = ${w.dim(S)};`);
  const segId = core.op.segmented ? core.inputs[3] : undefined;
  if (segId !== undefined) {
    const seg = w.buffer(segId);
    w.block(`for (var i = 0u; i + 1u < ${w.dim(g.nodes[segId].shape[0])}; i = i + 1u) {`, () => {
      w.line(`let segStart = u32(${seg}[i]);`);
      w.line(`let segEnd = u32(${seg}[i + 1u]);`);
      w.line("if (t >= segStart && t < segEnd) { keyStart = segStart; keyEnd = segEnd; }");
    });
  }
  if (core.op.causal) w.line("keyEnd = min(keyEnd, t + 1u);");
  const relative = core.op.relative;
  w.block("for (var s = keyStart; s < keyEnd; s = s + 1u) {", () => {
    const terms = steps.map((d) => (lanes === 4 ? `dot(q${d}, ${load(kId, "s", d)})` : `q${d} * ${load(kId, "s", d)}`));
    if (relative) {
      // Decomposed relative positions: the key's row and column in its KH x KW grid pick one bias each.
      const [rowId, colId] = core.inputs.slice(-2);
      const kw = (g.nodes[colId].shape[2] as number) / heads;
      const kh = (g.nodes[rowId].shape[2] as number) / heads;
      w.line(`let score = ${terms.join(" + ")} + ${w.value(rowId, ["b", "t", `(h * ${kh}u + s / ${kw}u)`])} + ${w.value(colId, ["b", "t", `(h * ${kw}u + s % ${kw}u)`])};`);
    } else {
      w.line(`let score = ${terms.join(" + ")};`);
    }
    // The running output is rescaled only when the maximum grows, which after the first keys is rare:
    // one exp per key instead of two, and no multiply of the whole output by 1.
    w.block("if (score > runMax) {", () => {
      w.line("let correction = exp(runMax - score);");
      w.line("runSum = runSum * correction;");
      for (const d of steps) w.line(`o${d} = o${d} * correction;`);
      w.line("runMax = score;");
    });
    w.line("let p = exp(score - runMax);");
    w.line("runSum = runSum + p;");
    for (const d of steps) w.line(`o${d} = fma(${vec}(p), ${load(vId, "s", d)}, o${d});`);
  });
  w.line("let inv = 1.0 / runSum;");
  for (const d of steps) {
    for (let c = 0; c < lanes; c++) {
      w.store(w.offset(core.shape, ["b", "t", `(h * ${dh}u + ${d * lanes + c}u)`]), lanes === 4 ? `o${d}[${c}] * inv` : `o${d} * inv`);
    }
  }
  const body = w.takeBody();
  const entry = `@compute @workgroup_size(${ATTENTION_THREADS})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${body}
}`;
  return finish(w, entry, { kind: "grid", x: ceilDiv(T, ATTENTION_THREADS), y: heads, z: B });
}
