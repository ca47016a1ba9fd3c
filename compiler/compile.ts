import { generateKernel } from "./codegen/templates.ts";
import type { Program } from "./elaborate/elaborate.ts";
import { groupKernels } from "./fusion/groups.ts";
import type { Graph } from "./ir/graph.ts";
import { eliminateDeadCode } from "./passes/dce.ts";
import { mergeSiblingLinears } from "./passes/merge-linears.ts";
import { assignSlots, type Plan, type PlanKernel } from "./plan/plan.ts";

export interface CompileOptions {
  fuse: boolean;
  /** See FusionOptions.normsOnLoad. */
  normsOnLoad?: boolean;
}

/** The compiler after elaboration, as one flat list of passes. */
export function compileGraph(input: Graph, options: CompileOptions = { fuse: true }): Plan {
  let graph = eliminateDeadCode(input);
  if (options.fuse) graph = eliminateDeadCode(mergeSiblingLinears(graph));
  const groups = groupKernels(graph, options);
  const kernels: PlanKernel[] = groups.map((group, i) => {
    const code = generateKernel(graph, group);
    return {
      name: `k${i}_${group.kind}`,
      kind: group.kind,
      wgsl: code.wgsl,
      reads: code.bindings.map((b) => ({ node: b.node, vec4: b.vec4 })),
      write: group.root,
      uniforms: code.uniforms,
      dispatch: code.dispatch,
      nodes: group.members,
    };
  });
  const { slotOf, slotCount } = assignSlots(graph, kernels);
  return { graph, kernels, slotOf, slotCount };
}

export function compileProgram(program: Program, options: CompileOptions = { fuse: true }): Plan {
  return compileGraph(program.graph, options);
}
