import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { buildArtifact } from "../compiler/emit/artifact.ts";
import { emitModule } from "../compiler/emit/module.ts";
import { stringifyPlanFile } from "../core/serialize.ts";
import { UsageError } from "../core/errors.ts";
import type { TargetClass } from "../core/plan.ts";
import type { Compiled } from "./compile.ts";

/** What a compiled folder holds; `model.ts` is what earlier versions wrote, replaced on a new compile. */
const ARTIFACT_ENTRIES = new Set(["plan.json", "model.js", "model.d.ts", "model.ts", "kernels", "package.json"]);

export interface WriteOptions {
  /** The module the compiled model imports the runtime from (default `tesserae/runtime`). */
  runtime?: string;
  /** The adapter class whose defaults the kernels take; default none: portable kernels for any adapter. */
  target?: TargetClass;
}

export interface Written {
  dir: string;
  files: string[];
  kernels: number;
  distinctKernels: number;
  /** Kernels run once at load time (derived weights). */
  loadKernels: number;
}

/**
 * Writes a compiled graph as a folder that travels: plan.json, kernels/*.wgsl, model.js with its
 * declarations (model.d.ts) importing only the runtime package, and a package.json. The folder is
 * built beside `dir` and moved into place, so a failed write leaves an earlier artifact whole; a
 * folder holding anything else is refused.
 */
export async function writeArtifact(compiled: Compiled, dir: string, options: WriteOptions = {}): Promise<Written> {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} is a file, not a folder`);
    const foreign = readdirSync(dir).filter((e) => !ARTIFACT_ENTRIES.has(e));
    if (foreign.length > 0)
      throw new UsageError(
        `${dir} holds files tesserae compile did not write (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", ..." : ""}); give a new folder`,
      );
  }
  const weights = compiled.options.weights;
  if (
    weights &&
    (resolve(dir) + sep).startsWith(resolve(existsSync(weights) && statSync(weights).isDirectory() ? weights : dirname(weights)) + sep)
  ) {
    throw new UsageError(`${dir} is inside the checkpoint folder of ${weights}`);
  }
  const { fuse, dtype } = compiled.options;
  const compiledWith = {
    fuse,
    storage: dtype,
    preset: compiled.options.preset,
    set: Object.entries(compiled.options.config).map(([k, v]) => `${k}=${v}`),
    weights,
    ...(options.target ? { target: options.target } : {}),
  };
  const { file, files, plan } = buildArtifact(
    compiled.program,
    compiled.source,
    { fuse, storage: dtype, target: options.target },
    compiledWith,
  );
  const runtime = options.runtime ?? "tesserae/runtime";
  const { js, dts } = await emitModule(file, files, runtime);
  const tmp = `${resolve(dir)}.tmp-${process.pid}`;
  const written = ["plan.json", ...files.keys(), "model.js", "model.d.ts", "package.json"];
  try {
    mkdirSync(join(tmp, "kernels"), { recursive: true });
    writeFileSync(join(tmp, "plan.json"), stringifyPlanFile(file));
    for (const [name, text] of files) writeFileSync(join(tmp, name), text);
    writeFileSync(join(tmp, "model.js"), js);
    writeFileSync(join(tmp, "model.d.ts"), dts);
    const pkg = {
      name: `${file.model.replace(/[^a-z0-9._-]/gi, "-").toLowerCase()}-compiled`,
      private: true,
      type: "module",
      main: "model.js",
      types: "model.d.ts",
      exports: { ".": { types: "./model.d.ts", default: "./model.js" } },
    };
    writeFileSync(join(tmp, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    dir,
    files: written,
    kernels: plan.kernels.length,
    distinctKernels: new Set(plan.kernels.map((k) => k.wgsl)).size,
    loadKernels: plan.prepare?.kernels.length ?? 0,
  };
}
