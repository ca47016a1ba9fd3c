import { compileProgram } from "../compiler/compile.ts";
import { eliminateDeadCode } from "../compiler/passes/dce.ts";
import { checkpointTensors } from "../runtime/artifact.ts";
import { contextFor, deviceTarget, getGpu, type TargetChoice } from "../runtime/device.ts";
import { UsageError } from "../core/errors.ts";
import type { TextTokenizer } from "../runtime/layout/encode.ts";
import { decodeNode } from "../runtime/node.ts";
import { resolveTokenizer } from "./layout.ts";
import { Model, type ModelEvents } from "../runtime/model.ts";
import type { HostTensor, WeightSource } from "../runtime/tensor.ts";
import { lazyRandomWeights } from "../runtime/weights/random.ts";
import { Checkpoint } from "../runtime/weights/checkpoint.ts";
import { loadTilings } from "../tune/cache.ts";
import type { Compiled } from "./compile.ts";

export interface LoadOptions extends ModelEvents {
  /**
   * A checkpoint folder or .safetensors file, or tensors by name. Default: the checkpoint the graph
   * was compiled with; without one, seeded random weights (and a warning).
   */
  weights?: string | ReadonlyMap<string, HostTensor>;
  /** Seed of the random weights used when there are no weights (default 0). */
  seed?: number;
  /** Your device; default: the process-wide Dawn device. */
  device?: GPUDevice;
  /** tokenizer.json (or a folder with it, or SigLIP's spiece.model), or a loaded tokenizer; default: the checkpoint's. */
  tokenizer?: string | TextTokenizer;
  /** Use the autotuner's cached tilings for this adapter (`tesserae tune`); default true. */
  tuned?: boolean;
  /**
   * The adapter class whose kernels the plan takes: `auto` (the default) the device's own, `gpu` or
   * `cpu` the other class's, to check them on this device (correct anywhere, fast only on their class).
   */
  target?: TargetChoice;
}

/** Where the weights of a load came from, in words. */
export function describeWeights(compiled: Compiled, options: LoadOptions): string {
  const weights = options.weights ?? compiled.options.weights ?? undefined;
  if (typeof weights === "string") return `weights from ${weights}`;
  if (weights) return "weights given as tensors";
  return `random weights (seed ${options.seed ?? 0})`;
}

function weightSource(compiled: Compiled, options: LoadOptions): WeightSource {
  const { program } = compiled;
  const weights = options.weights ?? compiled.options.weights ?? undefined;
  if (weights instanceof Map) {
    // Under the checkpoint's names (any of the graph's prefixes) or the graph's own, shapes checked now.
    const params = eliminateDeadCode(program.graph).nodes.flatMap((n) =>
      n.op.kind === "param" ? [{ name: n.op.name, shape: n.shape }] : [],
    );
    return checkpointTensors({ model: program.name, naming: program, weights: params }, weights, "the given tensors");
  }
  if (typeof weights === "string") {
    const checkpoint = weights === compiled.options.weights && compiled.checkpoint ? compiled.checkpoint : Checkpoint.open(weights);
    // Names and shapes are checked now, from the headers; each tensor is read as it is uploaded.
    return checkpoint.sourceFor(program.graph, program, options.onWarning);
  }
  if (weights !== undefined) throw new UsageError("weights: give a checkpoint folder or file, or a Map of tensors by name");
  const seed = options.seed ?? 0;
  options.onWarning?.(`no weights given: using seeded random weights (seed ${seed}); outputs are not a real model's`);
  return lazyRandomWeights(program.graph, seed);
}

/**
 * A compiled graph on a device with its weights, ready to run: the plan is made for the device (its
 * defaults per adapter class, and the autotuner's cached choices), the weights checked and uploaded.
 */
export async function load(compiled: Compiled, options: LoadOptions = {}): Promise<Model> {
  const ctx = options.device ? contextFor(options.device) : await getGpu();
  let storage = compiled.options.dtype;
  if (storage === "f16" && !ctx.features.includes("shader-f16")) {
    options.onWarning?.(`the adapter (${ctx.adapterName}) has no shader-f16: running in f32 instead`);
    storage = "f32";
  }
  const target = deviceTarget(ctx, options.target);
  const tilings = options.tuned === false ? undefined : loadTilings(target.tuningKey, undefined, target).table;
  const plan = compileProgram(compiled.program, { fuse: compiled.options.fuse, storage, tilings, target });
  const weights = weightSource(compiled, options);
  return Model.create(ctx, compiled.program, plan, weights, {
    onWarning: options.onWarning,
    onProgress: options.onProgress,
    tokenizer: resolveTokenizer(options.tokenizer, typeof options.weights === "string" ? options.weights : compiled.options.weights),
    decode: decodeNode,
  });
}
