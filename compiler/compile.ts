import { generateKernel } from "./codegen/templates.ts";
import { tilingName, tuningKey, type KernelTarget, type TilingTable } from "./codegen/tiling.ts";
import type { Program } from "../core/program.ts";
import { groupKernels } from "./fusion/groups.ts";
import type { Graph } from "../core/graph.ts";
import { eliminateDeadCode } from "./passes/dce.ts";
import { duplicateSharedViews } from "./passes/duplicate-views.ts";
import { foldNormsIntoLinears } from "./passes/fold-norms.ts";
import { mergeSiblingLinears } from "./passes/merge-linears.ts";
import { pushGathersIntoMatmuls } from "./passes/push-gathers.ts";
import { splitWeightPreparation } from "./passes/prepare-weights.ts";
import { splitSlicedParams } from "./passes/split-params.ts";
import { transposeWeights } from "./passes/transpose-weights.ts";
import type { Plan, PlanKernel, StorageType } from "../core/plan.ts";
import { assignSlots } from "./plan/slots.ts";

export interface CompileOptions {
  fuse: boolean;
  /** How tensors are stored on the GPU; f16 needs the adapter's shader-f16. Arithmetic stays f32. */
  storage?: StorageType;
  /** Matmul and attention tilings the autotuner chose for this adapter, by kernel key; others get the defaults. */
  tilings?: TilingTable;
  /** The device the plan is for (a GpuContext is one): its defaults where `tilings` has no choice; portable ones without it. */
  target?: KernelTarget;
}

/**
 * Graph rewrites of the fused plan, in order: the ones that match patterns (sibling linears, a
 * normalisation before a linear) run before the ones that change what they would match.
 */
const FUSED_PASSES: readonly ((g: Graph) => Graph)[] = [
  pushGathersIntoMatmuls,
  duplicateSharedViews,
  mergeSiblingLinears,
  foldNormsIntoLinears,
  transposeWeights,
];

/** The compiler after elaboration, as one flat list of passes. */
export function compileGraph(input: Graph, options: CompileOptions = { fuse: true }): Plan {
  let graph = eliminateDeadCode(splitSlicedParams(eliminateDeadCode(input)));
  if (!options.fuse) return planKernels(graph, options, null);
  for (const pass of FUSED_PASSES) graph = eliminateDeadCode(pass(graph));
  const { main, prepare } = splitWeightPreparation(graph);
  return planKernels(main, options, prepare && planKernels(prepare, options, null));
}

function planKernels(graph: Graph, options: CompileOptions, prepare: Plan | null): Plan {
  const groups = groupKernels(graph, options);
  const kernels: PlanKernel[] = groups.map((group, i) => {
    const tuneKey = tuningKey(graph, group);
    const code = generateKernel(graph, group, options.storage ?? "f32", options.tilings, options.target);
    return {
      name: `k${i}_${group.kind}`,
      kind: group.kind,
      wgsl: code.wgsl,
      reads: code.bindings.map((b) => ({ node: b.node, vec4: b.vec4 })),
      write: group.root,
      uniforms: code.uniforms,
      dispatch: code.dispatch,
      nodes: group.members,
      ...(tuneKey !== null && code.tiling ? { tuning: { key: tuneKey, tiling: tilingName(code.tiling) } } : {}),
    };
  });
  const { slotOf, slotCount } = assignSlots(graph, kernels);
  return { graph, kernels, slotOf, slotCount, storage: options.storage ?? "f32", prepare };
}

export function compileProgram(program: Program, options: CompileOptions = { fuse: true }): Plan {
  return compileGraph(program.graph, options);
}
