import { offlineTarget, PORTABLE_ATTENTION } from "../codegen/tiling.ts";
import { attentionEverywhere } from "../kernels/index.ts";
import { compileProgram } from "../compile.ts";
import type { Program } from "../../core/program.ts";
import type { Plan, TargetClass } from "../../core/plan.ts";
import { PLAN_FORMAT, serializePlan, type PlanFile } from "../../core/serialize.ts";

/** A compiled graph as plan.json content and its kernel files (what `compile` writes, what the web demo serves). */
export function buildArtifact(
  program: Program,
  graphPath: string,
  options: { fuse: boolean; storage: "f32" | "f16"; target?: TargetClass },
  compiledWith: Record<string, unknown>,
): { file: PlanFile; files: Map<string, string>; plan: Plan } {
  const { fuse, storage } = options;
  const target = offlineTarget(options.target);
  // Built for an adapter of no known class: attention with the portable tiling; else that class's defaults.
  const keys = compileProgram(program, { fuse, storage }).kernels.flatMap((k) => (k.tuning ? [k.tuning.key] : []));
  const tilings = target ? undefined : attentionEverywhere(keys, PORTABLE_ATTENTION);
  const plan = compileProgram(program, { fuse, storage, tilings, target });
  const g = program.graph;
  const { plan: serialized, files } = serializePlan(plan);
  const file: PlanFile = {
    format: PLAN_FORMAT,
    model: program.name,
    source: graphPath,
    compiled_with: compiledWith,
    inputs: g.inputs.map((i) => ({ name: i.name, dtype: g.nodes[i.node].dtype, shape: g.nodes[i.node].shape })),
    outputs: g.outputs.map((o) => ({ name: o.name, shape: g.nodes[o.node].shape })),
    weights: g.nodes.flatMap((n) => (n.op.kind === "param" ? [{ name: n.op.name, shape: n.shape }] : [])),
    program: {
      config: program.config,
      preprocess: program.preprocess,
      prefixes: program.prefixes,
      renames: program.renames,
      symbols: program.symbols,
      providers: program.providers,
      layout: program.layout,
    },
    plan: serialized,
  };
  return { file, files, plan };
}
