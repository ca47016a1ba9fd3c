import { writeFileSync } from "node:fs";
import { compile } from "../../api/compile.ts";
import { UsageError } from "../../core/errors.ts";
import { benchEngines, PEERS, type BenchRecord } from "../../bench/measure.ts";
import { markdownTable } from "../../bench/report.ts";
import { deviceTarget, getGpu, type DeviceTarget } from "../../runtime/device.ts";
import { syntheticImage } from "../../bench/synthetic.ts";
import type { Program } from "../../core/program.ts";
import { imageInputs } from "../../runtime/inputs.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { randomTensor, randomWeights, rng } from "../../runtime/weights/random.ts";
import { intFlag, one, overrides, parseArgs, type ParsedArgs } from "../args.ts";
import { targetFlag } from "../load.ts";
import type { GpuContext } from "../../runtime/gpu-context.ts";
import { compileProgram } from "../../compiler/compile.ts";
import { autotune } from "../../tune/autotune.ts";
import { loadTilings } from "../../tune/cache.ts";
import { io } from "../io.ts";

/** `tesserae bench <graph>...`: fused and unfused latency side by side, per-kernel GPU time, GFLOP/s. */
export async function benchCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    {
      values: ["preset", "set", "runs", "dtype", "batch", "out", "image", "target"],
      repeatable: ["set"],
      switches: ["no-fuse", "peers", "tune"],
    },
    "bench",
  );
  if (args.positional.length === 0)
    throw new UsageError(
      "usage: tesserae bench <graph.tsr>... [--preset NAME] [--dtype f32|f16] [--runs N] [--batch N] [--image WxH] [--no-fuse] [--peers] [--tune] [--target cpu|gpu|auto]",
    );
  const { runs, batch, ctx, target, storage, log } = await measuring(args, 3);
  const records: BenchRecord[] = [];
  for (const graph of args.positional) {
    // The program only: the benchmark compiles it its own ways (fused, unfused, per tiling).
    const { program } = compile(graph, { preset: one(args, "preset"), config: overrides(args) });
    const inputs = benchInputs(program, batch, one(args, "image"));
    const shape = (inputs.get(program.graph.inputs[0].name) as HostTensor).shape;
    log(`${graph}: ${program.name} [${shape.join(", ")}], ${runs} runs per engine, random weights`);
    const weights = randomWeights(program.graph, 0);
    // Tuned kernel choices for this adapter: measured now with --tune (shapes not cached yet), else as cached.
    const tilings = args.switches.has("tune")
      ? (
          await autotune(ctx, {
            compile: (t) => compileProgram(program, { fuse: true, storage, tilings: t, target }),
            weights,
            inputs,
            graph,
            log,
            target,
          })
        ).table
      : loadTilings(target.tuningKey, undefined, target).table;
    records.push(
      ...(await benchEngines(
        { name: graph, program, preset: one(args, "preset") ?? "", inputs, weights },
        {
          runs,
          tilings,
          target,
          engines: [
            ...(args.switches.has("no-fuse") ? ["tesserae-unfused" as const] : ["tesserae" as const, "tesserae-unfused" as const]),
            ...(args.switches.has("peers") ? PEERS : []),
          ],
          storage,
          log,
        },
      )),
    );
  }
  io().out.write(markdownTable(records));
  const out = one(args, "out");
  if (out) writeFileSync(out, `${JSON.stringify(records, null, 2)}\n`);
  return 0;
}

/** What bench and tune share: --runs, --batch, the device, the target class and the storage type (f16 where the adapter has shader-f16). */
export async function measuring(
  args: ParsedArgs,
  defaultRuns: number,
): Promise<{ runs: number; batch: number; ctx: GpuContext; target: DeviceTarget; storage: "f32" | "f16"; log: (s: string) => void }> {
  const runs = intFlag(args, "runs", defaultRuns);
  const batch = intFlag(args, "batch", 1);
  if (runs < 1 || batch < 1) throw new UsageError("--runs and --batch must be at least 1");
  const dtype = one(args, "dtype") ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") throw new UsageError(`--dtype must be f32 or f16, got '${dtype}'`);
  const choice = targetFlag(args);
  const ctx = await getGpu();
  const target = deviceTarget(ctx, choice);
  const storage = dtype === "f16" && !ctx.features.includes("shader-f16") ? "f32" : dtype;
  if (storage !== dtype) io().err.write(`tesserae: the adapter has no shader-f16: measuring f32 instead\n`);
  return { runs, batch, ctx, target, storage, log: (s: string): void => void io().err.write(`${s}\n`) };
}

/**
 * Inputs for a benchmark: graphs that compute inputs from the images' grids or tiles (Qwen, DeepSeek-VL2)
 * get `batch` synthetic images (`--image WxH`, 224x224 by default) run through their preprocessing;
 * the others random pixel values of the declared shape.
 */
export function benchInputs(program: Program, batch: number, image: string | undefined): Map<string, HostTensor> {
  if (program.providers.length === 0 && image === undefined) {
    const input = program.graph.nodes[program.graph.inputs[0].node];
    return new Map([
      [
        program.graph.inputs[0].name,
        randomTensor(
          input.shape.map((d) => (typeof d === "number" ? d : batch)),
          rng(1),
        ),
      ],
    ]);
  }
  const size = /^(\d+)x(\d+)$/.exec(image ?? "224x224");
  if (!size) throw new UsageError(`--image must be WxH (e.g. 1280x720), got '${image}'`);
  const [w, h] = [Number(size[1]), Number(size[2])];
  return imageInputs(
    program,
    Array.from({ length: batch }, () => syntheticImage(w, h)),
    Array.from({ length: batch }, (_, i) => `synthetic ${i + 1}`),
  ).inputs;
}
