import { InputError } from "./errors.ts";
import type { Program } from "./program.ts";
import type { Dim } from "./dims.ts";
import type { Graph } from "./graph.ts";
import type { Plan, PlanKernel } from "./plan.ts";

/** plan.json's format tag: readers refuse other versions by name. */
export const PLAN_FORMAT = "tesserae-plan/1";

/** A plan as plan.json stores it: WGSL in files of its own, arena slots as pairs. */
export interface SerializedPlan {
  graph: Plan["graph"];
  kernels: (Omit<PlanKernel, "wgsl"> & { wgsl_file: string })[];
  slots: [number, number][];
  slot_count: number;
  storage: Plan["storage"];
  prepare: SerializedPlan | null;
}

/** What a compiled graph needs besides its plan: how to make its inputs and read its weights. */
export interface PlanFile {
  format: typeof PLAN_FORMAT;
  model: string;
  source: string;
  compiled_with: Record<string, unknown>;
  inputs: { name: string; dtype: string; shape: Dim[] }[];
  outputs: { name: string; shape: Dim[] }[];
  weights: { name: string; shape: Dim[] }[];
  program: Pick<Program, "config" | "preprocess" | "prefixes" | "symbols" | "providers" | "layout"> & Partial<Pick<Program, "renames">>;
  plan: SerializedPlan;
}

/** The plan with each distinct WGSL text in one file (`kernels/NNN-name.wgsl`); returns the files to write. */
export function serializePlan(
  plan: Plan,
  files = new Map<string, string>(),
  prefix = "",
): { plan: SerializedPlan; files: Map<string, string> } {
  const byText = new Map<string, string>([...files].map(([name, text]) => [text, name]));
  const kernels = plan.kernels.map((k, i) => {
    let file = byText.get(k.wgsl);
    if (!file) {
      file = `kernels/${prefix}${String(i).padStart(3, "0")}-${k.name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60)}.wgsl`;
      files.set(file, k.wgsl);
      byText.set(k.wgsl, file);
    }
    const { wgsl: _, ...rest } = k;
    return { ...rest, wgsl_file: file };
  });
  const prepare = plan.prepare ? serializePlan(plan.prepare, files, "prepare-").plan : null;
  return {
    plan: { graph: plan.graph, kernels, slots: [...plan.slotOf], slot_count: plan.slotCount, storage: plan.storage, prepare },
    files,
  };
}

export function deserializePlan(p: SerializedPlan, readKernel: (file: string) => string): Plan {
  return {
    graph: p.graph,
    kernels: p.kernels.map(({ wgsl_file, ...k }) => ({ ...k, wgsl: readKernel(wgsl_file) })),
    slotOf: new Map(p.slots),
    slotCount: p.slot_count,
    storage: p.storage,
    prepare: p.prepare ? deserializePlan(p.prepare, readKernel) : null,
  };
}

/**
 * The checkpoint tensors a compiled graph reads, as a graph of parameters (names and full shapes, as
 * the source graph declared them): what a checkpoint is checked and read against.
 */
export function weightsGraph(file: PlanFile): Graph {
  return {
    name: file.model,
    nodes: file.weights.map((w, id) => ({ id, op: { kind: "param", name: w.name }, inputs: [], shape: w.shape, dtype: "f32", source: [] })),
    inputs: [],
    outputs: [],
  };
}

// JSON has no Infinity or NaN (masks and padding constants use them): they travel as tagged strings.
const NON_FINITE = "@number:";

/** plan.json's text; `compact` leaves out the indentation (for a plan embedded in a module). */
export function stringifyPlanFile(file: PlanFile, compact = false): string {
  return `${JSON.stringify(
    file,
    (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? `${NON_FINITE}${v}` : v),
    compact ? undefined : 1,
  )}\n`;
}

export function parsePlanFile(text: string, where: string): PlanFile {
  let file: PlanFile;
  try {
    file = JSON.parse(text, (_k, v: unknown) =>
      typeof v === "string" && v.startsWith(NON_FINITE) ? Number(v.slice(NON_FINITE.length)) : v,
    ) as PlanFile;
  } catch (e) {
    throw new InputError(`${where}: not a plan.json tesserae compile wrote (${e instanceof Error ? e.message : String(e)})`);
  }
  if (file?.format !== PLAN_FORMAT)
    throw new InputError(
      `${where}: format '${String(file.format)}' is not ${PLAN_FORMAT}; recompile the graph with this version of tesserae`,
    );
  return file;
}
