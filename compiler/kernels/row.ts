import { numel } from "../../core/dims.ts";
import { finish, type KernelCode } from "../codegen/kernel-code.ts";
import { element, named, u32, type Expr } from "../codegen/expr.ts";
import { F32_LOWEST, statKey, type KernelWriter } from "../codegen/writer.ts";
import type { KernelModule } from "./kernel.ts";

export const ROW_THREADS = 64;

/** Reductions along `group.axis` and their elementwise neighbours: one workgroup per row, statistics in shared memory. */
function generate(w: KernelWriter): KernelCode {
  const { graph: g, group } = w;
  const root = g.nodes[group.root];
  const rowShape = g.nodes[g.nodes[group.reduces[0]].inputs[0]].shape;
  const axis = group.axis;
  const len = w.dim(rowShape[axis]);
  const rowsShape = rowShape.filter((_, i) => i !== axis);
  const rows = numel(rowsShape);
  w.line(`if (rowIndex >= ${w.dim(rows)}) { return; }`);
  const lead = w.unravel(named("rowIndex", "u32"), rowsShape);
  const k = named("k", "u32");
  const at = (k: Expr): Expr[] => {
    const c = [...lead];
    c.splice(axis, 0, k);
    return c;
  };
  // With an inlined contraction, the reductions' input row is computed once into workgroup memory.
  const staged = group.inlined.length > 0 ? g.nodes[group.reduces[0]].inputs[0] : null;
  if (staged !== null) {
    w.block(`for (var k = lid.x; k < ${len}; k = k + ${ROW_THREADS}u) {`, () => {
      w.line(`rowBuf[k] = ${w.value(staged, at(k))};`);
    });
    w.line("workgroupBarrier();");
    w.statOverrides.set(statKey(staged, at(k)), element("rowBuf", k, "f32", true));
  }
  for (const id of group.reduces) {
    const red = g.nodes[id];
    if (red.op.kind !== "reduce") continue;
    const isMax = red.op.fn === "max";
    const acc = w.fresh("acc");
    w.line(`var ${acc} = ${isMax ? F32_LOWEST : "0.0"};`);
    w.block(`for (var k = lid.x; k < ${len}; k = k + ${ROW_THREADS}u) {`, () => {
      const v = w.value(red.inputs[0], at(k));
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
    w.overrides.set(id, named(stat, "f32"));
  }
  const fullRow = root.shape[axis] !== 1 || rowShape[axis] === 1;
  if (fullRow) {
    w.block(`for (var k = lid.x; k < ${len}; k = k + ${ROW_THREADS}u) {`, () => {
      const c = at(k);
      w.store(w.offset(root.shape, c), w.value(root.id, c));
    });
  } else {
    w.block("if (lid.x == 0u) {", () => {
      const c = at(u32(0));
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

export const row: KernelModule = { kind: "row", generate, tuning: null };
