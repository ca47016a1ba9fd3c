import { compileFile, UsageError } from "../compiler/frontend.ts";
import type { Program } from "../compiler/elaborate/elaborate.ts";
import { Checkpoint } from "../runtime/weights/checkpoint.ts";
import { lazyRandomWeights } from "../runtime/weights/random.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import type { WeightSource } from "../runtime/tensor.ts";
import { intFlag, one, overrides, type ParsedArgs } from "./args.ts";

export const MODEL_FLAGS = ["weights", "preset", "set", "seed"];

export interface LoadedModel {
  program: Program;
  checkpoint: Checkpoint | null;
  /** Where the weights came from, for the summary. */
  weightsNote: string;
  /** Reads (or makes) the weights of the compiled graph's parameters only. */
  loadWeights: (graph: Graph) => WeightSource;
}

/** A graph file bound to its config: from --weights (config.json), --preset, then --set. */
export function loadModel(graphPath: string, args: ParsedArgs): LoadedModel {
  const weightsDir = one(args, "weights");
  const preset = one(args, "preset");
  const seed = intFlag(args, "seed", 0);
  const checkpoint = weightsDir === undefined ? null : Checkpoint.open(weightsDir);
  const program = compileFile(graphPath, {
    preset,
    overrides: overrides(args),
    checkpointConfig: checkpoint?.config,
    preprocessorConfig: checkpoint?.preprocessorConfig,
    hasWeight: checkpoint ? (name) => checkpoint.has(name) : undefined,
  });
  if (checkpoint) {
    return {
      program,
      checkpoint,
      weightsNote: `weights from ${weightsDir}`,
      // Read tensor by tensor as the executor uploads them: names and shapes are checked here, up front.
      loadWeights: (graph) => checkpoint.sourceFor(graph, program.prefixes),
    };
  }
  return {
    program,
    checkpoint,
    weightsNote: `random weights (seed ${seed})`,
    loadWeights: (graph) => {
      process.stderr.write(`tesserae: no --weights given: using seeded random weights (seed ${seed}); outputs are not a real model's\n`);
      return lazyRandomWeights(graph, seed);
    },
  };
}

export function requireGraph(args: ParsedArgs, command: string): string {
  if (args.positional.length !== 1) throw new UsageError(`usage: tesserae ${command} <graph.tsr> [options]`);
  return args.positional[0];
}
