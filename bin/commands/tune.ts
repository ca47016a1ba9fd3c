import { compileProgram } from "../../compiler/compile.ts";
import { tilingName } from "../../compiler/codegen/tiling.ts";
import { compile } from "../../api/compile.ts";
import { UsageError } from "../../core/errors.ts";
import { randomWeights } from "../../runtime/weights/random.ts";
import { autotune } from "../../tune/autotune.ts";
import { tuningCachePath } from "../../tune/cache.ts";
import { one, overrides, parseArgs } from "../args.ts";
import { benchInputs, measuring } from "./bench.ts";
import { io } from "../io.ts";

/**
 * `tesserae tune <graph>...`: measures the candidate tilings of every matmul and attention shape of the
 * graphs on this adapter and caches the fastest (run, score and bench then use them).
 */
export async function tuneCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: ["preset", "set", "runs", "dtype", "batch", "image", "target"], repeatable: ["set"], switches: ["retune"] },
    "tune",
  );
  if (args.positional.length === 0)
    throw new UsageError(
      "usage: tesserae tune <graph.tsr>... [--preset NAME] [--set key=value] [--dtype f32|f16] [--batch N] [--image WxH] [--runs N] [--retune] [--target cpu|gpu|auto]",
    );
  const { runs, batch, ctx, target, storage, log } = await measuring(args, 2);
  for (const graph of args.positional) {
    // The program only: the benchmark compiles it its own ways (fused, unfused, per tiling).
    const { program } = compile(graph, { preset: one(args, "preset"), config: overrides(args) });
    const inputs = benchInputs(program, batch, one(args, "image"));
    log(`${graph}: tuning ${target.targetClass}-class kernels on ${ctx.adapterName} (${storage}), random weights`);
    const report = await autotune(ctx, {
      compile: (t) => compileProgram(program, { fuse: true, storage, tilings: t, target }),
      weights: randomWeights(program.graph, 0),
      inputs,
      runs,
      retune: args.switches.has("retune"),
      graph,
      log,
      target,
    });
    for (const key of report.cached) {
      const tiling = report.table.get(key);
      if (tiling) io().out.write(`${key}: ${tilingName(tiling)} (cached)\n`);
    }
    for (const [key, choice] of Object.entries(report.tuned)) io().out.write(`${key}: ${tilingName(choice.tiling)}\n`);
  }
  io().err.write(`tuned choices for '${target.tuningKey}' are in ${tuningCachePath()}\n`);
  return 0;
}
