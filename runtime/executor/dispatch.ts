import { InputError } from "../../core/errors.ts";
import { evalDim, type DimEnv } from "../../core/dims.ts";
import type { Dispatch } from "../../core/plan.ts";

const MAX_GROUPS = 65535;

/** Workgroups to launch for a dispatch at these dims, a line folded into x and y past the per-dimension limit. */
export function workgroups(d: Dispatch, env: DimEnv, name: string): [number, number, number] {
  if (d.kind === "linear") {
    const count = evalDim(d.count, env);
    if (count <= MAX_GROUPS) return [count, 1, 1];
    const y = Math.ceil(count / MAX_GROUPS);
    if (y > MAX_GROUPS) throw new InputError(`${name} needs ${count} workgroups, more than a device can launch`);
    return [MAX_GROUPS, y, 1];
  }
  const xyz: [number, number, number] = [evalDim(d.x, env), evalDim(d.y, env), evalDim(d.z, env)];
  if (xyz.some((v) => v > MAX_GROUPS))
    throw new InputError(`${name} needs a ${xyz.join("x")} workgroup grid; each dimension is limited to ${MAX_GROUPS}`);
  return xyz;
}
