import { writeArtifact, type Written } from "../../api/artifact.ts";
import { UsageError } from "../../core/errors.ts";
import { one, parseArgs } from "../args.ts";
import { classOf, compileFromArgs, dtypeFlag, MODEL_FLAGS, requireGraph, targetFlag } from "../load.ts";
import { io } from "../io.ts";

/** `tesserae compile <graph> --out DIR`: plan.json, kernels/*.wgsl and model.js with its declarations, importing tesserae/runtime. */
export async function compileCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: [...MODEL_FLAGS, "out", "dtype", "runtime", "target"], repeatable: ["set"], switches: ["no-fuse"] },
    "compile",
  );
  const graphPath = requireGraph(args, "compile");
  const out = one(args, "out");
  if (!out) throw new UsageError("compile needs --out DIR (a new folder, or one an earlier compile wrote)");
  const compiled = compileFromArgs(graphPath, args, { dtype: dtypeFlag(args), fuse: !args.switches.has("no-fuse") });
  const runtime = one(args, "runtime") ?? "tesserae/runtime";
  const target = classOf(targetFlag(args));
  let w: Written;
  try {
    w = await writeArtifact(compiled, out, { runtime, target });
  } catch (e) {
    // The folder checks name the folder; the CLI names its flag.
    if (e instanceof UsageError) throw new UsageError(`--out ${e.message}`);
    throw e;
  }
  io().err.write(
    `compiled ${compiled.name} (${graphPath}) to ${out}: ${w.kernels} kernels (${w.distinctKernels} distinct WGSL files${w.loadKernels ? `, and ${w.loadKernels} run once at load` : ""}), ${compiled.options.dtype} storage, ${target ? `${target}-class kernels` : "portable kernels"}; model.js imports the runtime from '${runtime}'\n`,
  );
  return 0;
}
