import { compileProgram } from "../compiler/compile.ts";
import type { Program } from "../core/program.ts";
import { explainPlan, type ExplainedKernel } from "../compiler/explain/report.ts";
import { elaborateSource } from "../compiler/frontend.ts";
import { eliminateDeadCode } from "../compiler/passes/dce.ts";
import { selectOutputs } from "../compiler/passes/select-outputs.ts";
import type { Plan } from "../core/plan.ts";
import { UsageError } from "../core/errors.ts";
import { dimText, tensorSpecs, type TensorSpec } from "../runtime/model.ts";
import { Checkpoint } from "../runtime/weights/checkpoint.ts";
import { readGraph, type GraphSpec } from "./graphs.ts";

export type ConfigValue = string | number | boolean | readonly (string | number)[];

export interface CompileOptions {
  /**
   * A Hugging Face checkpoint folder (or .safetensors file): its config.json and
   * preprocessor_config.json set the graph's config, and `load` reads its weights.
   */
  weights?: string;
  /** A published size the graph file declares (`preset "b32" { ... }`). */
  preset?: string;
  /** Config values by name, applied last (after the checkpoint's config and the preset). */
  config?: Readonly<Record<string, ConfigValue>>;
  /** How weights and activations are stored on the GPU; arithmetic stays f32. Default f32. */
  dtype?: "f32" | "f16";
  /** False: one primitive per kernel (the unfused baseline). Default true. */
  fuse?: boolean;
  /**
   * Only these outputs (and what they depend on): a contrastive graph's `image_embeds` runs without
   * texts, its `text_embeds` without images. Default: every output.
   */
  outputs?: readonly string[];
}

/** A graph-file warning, where it is. */
export interface GraphDiagnostic {
  severity: "error" | "warning";
  message: string;
  file: string;
  line: number;
  column: number;
}

/** A compiled graph, before it meets a device: what it takes, gives and runs, as data. */
export interface Compiled {
  name: string;
  /** The graph file's path (bundled graphs: `graphs/NAME.tsr`), or `<source>`. */
  source: string;
  config: Program["config"];
  presets: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Checkpoint tensors the graph reads (what its outputs depend on), with their shapes. */
  weights: { name: string; shape: (number | string)[] }[];
  /** The kernels in order (every symbolic dim 1): what each fuses, its graph-file lines, FLOPs and bytes. */
  kernels: ExplainedKernel[];
  diagnostics: GraphDiagnostic[];
  options: {
    dtype: "f32" | "f16";
    fuse: boolean;
    preset: string | null;
    config: Record<string, string>;
    weights: string | null;
    outputs: string[] | null;
  };
  /** The graph IR and the portable plan, for the runtime and the artifact writer. */
  program: Program;
  plan: Plan;
  /** The checkpoint `options.weights` named, opened (headers only). */
  checkpoint: Checkpoint | null;
}

function configText(v: ConfigValue): string {
  return typeof v === "string" ? v : Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/**
 * Parses, elaborates and compiles a graph. Throws DiagnosticError (every problem, each with
 * file:line:col), WeightsError (a checkpoint that cannot be read) or UsageError.
 */
export function compile(graph: GraphSpec, options: CompileOptions = {}): Compiled {
  const dtype = options.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") throw new UsageError(`dtype must be f32 or f16, got '${String(dtype)}'`);
  const fuse = options.fuse ?? true;
  const { path, text } = readGraph(graph);
  const checkpoint = options.weights === undefined ? null : Checkpoint.open(options.weights);
  const overrides = Object.fromEntries(Object.entries(options.config ?? {}).map(([k, v]) => [k, configText(v)]));
  const { program: elaborated, diagnostics } = elaborateSource(path, text, {
    preset: options.preset,
    overrides,
    checkpointConfig: checkpoint?.config,
    preprocessorConfig: checkpoint?.preprocessorConfig,
    hasWeight: checkpoint ? (name) => checkpoint.has(name) : undefined,
  });
  const program = options.outputs ? selectOutputs(elaborated, options.outputs) : elaborated;
  const plan = compileProgram(program, { fuse, storage: dtype });
  const g = program.graph;
  const batchOne = Object.fromEntries(program.symbols.map((s) => [s, 1]));
  return {
    name: program.name,
    source: path,
    config: program.config,
    presets: program.presets,
    inputs: tensorSpecs(g, g.inputs),
    outputs: tensorSpecs(g, g.outputs),
    weights: eliminateDeadCode(g).nodes.flatMap((n) => (n.op.kind === "param" ? [{ name: n.op.name, shape: n.shape.map(dimText) }] : [])),
    kernels: explainPlan(plan, path, batchOne, fuse).kernels,
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity,
      message: d.message,
      file: d.file,
      line: d.loc.start.line,
      column: d.loc.start.column,
    })),
    options: {
      dtype,
      fuse,
      preset: options.preset ?? null,
      config: overrides,
      weights: options.weights ?? null,
      outputs: options.outputs ? [...options.outputs] : null,
    },
    program,
    plan,
    checkpoint,
  };
}
