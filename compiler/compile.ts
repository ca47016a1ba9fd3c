import { generateKernel, tuningKey } from "./kernels/index.ts";
import { tilingName, type KernelTarget, type TilingTable } from "./codegen/tiling.ts";
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
import { markStoredWeights } from "./passes/mark-stored-weights.ts";
import type { Plan, PlanKernel, StorageType } from "../core/plan.ts";
import { assignSlots } from "./plan/slots.ts";
import { verifyGraph } from "./passes/verify.ts";
import { UsageError } from "../core/errors.ts";

export interface CompileOptions {
  fuse: boolean;
  /** How tensors are stored on the GPU; f16 needs the adapter's shader-f16. Arithmetic stays f32. */
  storage?: StorageType;
  /** Matmul and attention tilings the autotuner chose for this adapter, by kernel key; others get the defaults. */
  tilings?: TilingTable;
  /** The device the plan is for (a GpuContext is one): its defaults where `tilings` has no choice; portable ones without it. */
  target?: KernelTarget;
  /**
   * f16 storage: every stored value is checked against f16's range, and a run that exceeds it fails
   * naming the kernel and tensor (default true; false only to measure what the check costs).
   */
  f16RangeCheck?: boolean;
}

/** A named rewrite of the graph IR. The harness removes dead code and verifies the graph after each one. */
export interface GraphPass {
  name: string;
  run: (g: Graph) => Graph;
  /** Only in fused plans (`--no-fuse` keeps one primitive per kernel and the graph as written). */
  fusedOnly: boolean;
}

/**
 * The passes in order: the ones that match patterns (sibling linears, a normalisation before a linear)
 * run before the ones that change what they would match.
 */
export const PASSES: readonly GraphPass[] = [
  { name: "split-sliced-params", run: splitSlicedParams, fusedOnly: false },
  { name: "push-gathers", run: pushGathersIntoMatmuls, fusedOnly: true },
  { name: "duplicate-views", run: duplicateSharedViews, fusedOnly: true },
  { name: "merge-linears", run: mergeSiblingLinears, fusedOnly: true },
  { name: "fold-norms", run: foldNormsIntoLinears, fusedOnly: true },
  { name: "transpose-weights", run: transposeWeights, fusedOnly: true },
  { name: "mark-stored-weights", run: markStoredWeights, fusedOnly: false },
];

/** The graph as elaboration gave it (dead code removed), before any pass. */
export const ELABORATED = "elaborated";
/** The last step of a fused compile: parameter-only work split off into the preparation graph. */
export const SPLIT_PREPARATION = "split-weight-preparation";

/** The steps whose graphs `graphAfter` gives, in order. */
export function stepNames(fuse: boolean): string[] {
  return [ELABORATED, ...PASSES.filter((p) => fuse || !p.fusedOnly).map((p) => p.name), ...(fuse ? [SPLIT_PREPARATION] : [])];
}

/** Runs the passes in order (the fused-only ones with `fuse`), verifying the graph after each; stops after `until`. */
function runPasses(input: Graph, fuse: boolean, until?: string): Graph {
  let graph = eliminateDeadCode(input);
  verifyGraph(graph, ELABORATED);
  if (until === ELABORATED) return graph;
  for (const pass of PASSES) {
    if (pass.fusedOnly && !fuse) continue;
    graph = eliminateDeadCode(pass.run(graph));
    verifyGraph(graph, pass.name);
    if (pass.name === until) return graph;
  }
  return graph;
}

function splitPreparation(graph: Graph): { main: Graph; prepare: Graph | null } {
  const split = splitWeightPreparation(graph);
  verifyGraph(split.main, SPLIT_PREPARATION);
  if (split.prepare) verifyGraph(split.prepare, SPLIT_PREPARATION);
  return split;
}

/**
 * The graph at one step of the compile (`tesserae ir --after STEP`); after the preparation split, the
 * graph the kernels are made from. UsageError for a step this compile does not have.
 */
export function graphAfter(input: Graph, step: string, fuse = true): Graph {
  const steps = stepNames(fuse);
  if (!steps.includes(step)) throw new UsageError(`no step '${step}' in a${fuse ? "" : "n unfused"} compile (steps: ${steps.join(", ")})`);
  const graph = runPasses(input, fuse, step);
  return step === SPLIT_PREPARATION ? splitPreparation(graph).main : graph;
}

/** The compiler after elaboration: the passes, the preparation split, then kernels and the plan. */
export function compileGraph(input: Graph, options: CompileOptions = { fuse: true }): Plan {
  const graph = runPasses(input, options.fuse);
  if (!options.fuse) return planKernels(graph, options, null);
  const { main, prepare } = splitPreparation(graph);
  return planKernels(main, options, prepare && planKernels(prepare, options, null));
}

function planKernels(graph: Graph, options: CompileOptions, prepare: Plan | null): Plan {
  const groups = groupKernels(graph, options);
  const kernels: PlanKernel[] = groups.map((group, i) => {
    const tuneKey = tuningKey(graph, group);
    const storage = options.storage ?? "f32";
    const rangeCheck = storage === "f16" && options.f16RangeCheck !== false;
    const code = generateKernel(graph, group, storage, options.tilings, options.target, rangeCheck);
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
      ...(code.checksRange ? { checksRange: true } : {}),
    };
  });
  const { slotOf, slotCount } = assignSlots(graph, kernels);
  const targetClass = options.target?.targetClass;
  return {
    graph,
    kernels,
    slotOf,
    slotCount,
    storage: options.storage ?? "f32",
    prepare,
    ...(targetClass ? { targetClass } : {}),
    fusion: groups.map((group) => group.fusion),
  };
}

export function compileProgram(program: Program, options: CompileOptions = { fuse: true }): Plan {
  return compileGraph(program.graph, options);
}
