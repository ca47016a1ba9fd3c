import { dimCeilDiv as ceilDiv, numel } from "../../core/dims.ts";
import { finish, type KernelCode } from "../codegen/kernel-code.ts";
import { named } from "../codegen/expr.ts";
import type { KernelWriter } from "../codegen/writer.ts";
import type { KernelModule } from "./kernel.ts";

export const POINTWISE_THREADS = 256;

/** One invocation per output element: any DAG of elementwise ops and views inlined. */
function generate(w: KernelWriter): KernelCode {
  const { graph: g, group } = w;
  const root = g.nodes[group.root];
  const total = w.dim(numel(root.shape));
  const i = named("i", "u32");
  const coords = w.unravel(i, root.shape);
  w.store(i, w.value(root.id, coords));
  const body = w.takeBody();
  const entry = `@compute @workgroup_size(${POINTWISE_THREADS})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${POINTWISE_THREADS}u;
  if (i >= ${total}) { return; }
${body}
}`;
  return finish(w, entry, { kind: "linear", count: ceilDiv(numel(root.shape), POINTWISE_THREADS) });
}

export const pointwise: KernelModule = { kind: "pointwise", generate, tuning: null };
