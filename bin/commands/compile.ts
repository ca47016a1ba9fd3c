import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../../compiler/frontend.ts";
import { emitModule } from "../../compiler/emit/module.ts";
import { stringifyPlanFile } from "../../compiler/plan/serialize.ts";
import { buildArtifact } from "../../compiler/emit/artifact.ts";
import { one, parseArgs } from "../args.ts";
import { loadModel, MODEL_FLAGS, requireGraph } from "../load.ts";

const ARTIFACT_ENTRIES = new Set(["plan.json", "model.ts", "kernels", "package.json"]);
const RUNTIME_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "runtime");

/** `tesserae compile <graph> --out DIR`: plan.json, kernels/*.wgsl and a typed TypeScript module (model.ts). */
export async function compileCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: [...MODEL_FLAGS, "out", "dtype", "runtime"], repeatable: ["set"], switches: ["no-fuse"] }, "compile");
  const graphPath = requireGraph(args, "compile");
  const out = one(args, "out");
  if (!out) throw new UsageError("compile needs --out DIR (a new folder, or one an earlier compile wrote)");
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file, not a folder`);
    const foreign = readdirSync(out).filter((e) => !ARTIFACT_ENTRIES.has(e));
    if (foreign.length > 0) throw new UsageError(`--out ${out} holds files tesserae compile did not write (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", ..." : ""}); give a new folder`);
  }
  const weightsDir = one(args, "weights");
  if (weightsDir && resolve(out).startsWith(resolve(weightsDir) + sep)) throw new UsageError(`--out ${out} is inside the checkpoint folder ${weightsDir}`);
  const dtype = one(args, "dtype") ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") throw new UsageError(`--dtype must be f32 or f16, got '${dtype}'`);

  const { program } = loadModel(graphPath, args);
  const fuse = !args.switches.has("no-fuse");
  const compiledWith = { fuse, storage: dtype, preset: one(args, "preset") ?? null, set: args.values.get("set") ?? [], weights: weightsDir ?? null };
  const { file, files, plan } = buildArtifact(program, graphPath, { fuse, storage: dtype }, compiledWith);
  const runtimeImport = one(args, "runtime") ?? relativeImport(out, RUNTIME_DIR);

  // Written next to the target, then moved into place: a failed compile leaves an earlier artifact whole.
  const tmp = `${resolve(out)}.tmp-${process.pid}`;
  try {
    mkdirSync(join(tmp, "kernels"), { recursive: true });
    writeFileSync(join(tmp, "plan.json"), stringifyPlanFile(file));
    for (const [name, text] of files) writeFileSync(join(tmp, name), text);
    writeFileSync(join(tmp, "model.ts"), emitModule(file, runtimeImport));
    // model.ts is an ES module (it reads import.meta.url) wherever the folder is put.
    writeFileSync(join(tmp, "package.json"), JSON.stringify({ private: true, type: "module", main: "model.ts" }, null, 2) + "\n");
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const distinct = new Set(plan.kernels.map((k) => k.wgsl)).size;
  process.stderr.write(`compiled ${program.name} (${graphPath}) to ${out}: ${plan.kernels.length} kernels (${distinct} distinct WGSL files${plan.prepare ? `, and ${plan.prepare.kernels.length} run once at load` : ""}), ${dtype} storage; model.ts imports the runtime from '${runtimeImport}'\n`);
  return 0;
}

/** The runtime folder as an import specifier relative to `from` (posix separators, ./ prefixed). */
function relativeImport(from: string, to: string): string {
  const rel = relative(resolve(from), to).split(sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}
