import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deserializePlan, parsePlanFile, weightsGraph, type PlanFile } from "../compiler/plan/serialize.ts";
import type { Plan } from "../compiler/plan/plan.ts";
import { contextFor, getGpu, type GpuContext } from "./device.ts";
import { Executor, InputError } from "./executor.ts";
import type { HostTensor, WeightSource } from "./tensor.ts";
import { Checkpoint } from "./weights/checkpoint.ts";

/** A compiled graph read back from `tesserae compile`'s folder: plan.json and kernels/*.wgsl. */
export interface Artifact {
  dir: string;
  file: PlanFile;
  plan: Plan;
}

export function readArtifact(dir: string): Artifact {
  const where = join(dir, "plan.json");
  let text: string;
  try {
    text = readFileSync(where, "utf8");
  } catch {
    throw new InputError(`${dir}: no plan.json (compile the graph with \`tesserae compile <graph> --out ${dir}\`)`);
  }
  const file = parsePlanFile(text, where);
  return { dir, file, plan: deserializePlan(file.plan, (name) => readFileSync(join(dir, name), "utf8")) };
}

/** A compiled graph on a device with its weights. */
export interface CompiledModel {
  /** Inputs by name (the graph's own, computed ones included); outputs by name. */
  run(inputs: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>;
  dispose(): void;
  readonly adapter: string;
}

/**
 * Loads a compiled graph: its weights from a Hugging Face checkpoint folder (only the tensors the plan
 * binds are read) or given as tensors by name, on the caller's device or the process-wide one.
 */
export async function loadCompiled(artifact: Artifact, weights: string | WeightSource, device?: GPUDevice): Promise<CompiledModel> {
  const ctx: GpuContext = device ? contextFor(device) : await getGpu();
  // A checkpoint is checked against the compiled graph's weights now and read tensor by tensor at upload.
  const tensors = typeof weights === "string" ? Checkpoint.open(weights).sourceFor(weightsGraph(artifact.file), artifact.file.program.prefixes) : weights;
  const executor = await Executor.load(ctx, artifact.plan, tensors);
  return {
    adapter: ctx.adapterName,
    async run(inputs) {
      const result = await executor.run(new Map(Object.entries(inputs)));
      return Object.fromEntries(result.outputs);
    },
    dispose: () => executor.dispose(),
  };
}

/** One output of a run, by name (a compiled module's typed `run` reads them this way). */
export function outputOf(outputs: Readonly<Record<string, HostTensor>>, name: string): HostTensor {
  const t = outputs[name];
  if (!t) throw new InputError(`the compiled graph gave no output '${name}'`);
  return t;
}
