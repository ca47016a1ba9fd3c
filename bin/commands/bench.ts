import { writeFileSync } from "node:fs";
import { compileFile, UsageError } from "../../compiler/frontend.ts";
import { benchEngines, type BenchRecord } from "../../bench/measure.ts";
import { markdownTable } from "../../bench/report.ts";
import { getGpu } from "../../runtime/device.ts";
import { randomTensor, randomWeights, rng } from "../../runtime/weights/random.ts";
import { intFlag, one, overrides, parseArgs } from "../args.ts";

/** `tesserae bench <graph>...`: fused and unfused latency side by side, per-kernel GPU time, GFLOP/s. */
export async function benchCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: ["preset", "set", "runs", "dtype", "batch", "out"], repeatable: ["set"], switches: ["no-fuse"] }, "bench");
  if (args.positional.length === 0) throw new UsageError("usage: tesserae bench <graph.tsr>... [--preset NAME] [--dtype f32|f16] [--runs N] [--no-fuse]");
  const runs = intFlag(args, "runs", 3);
  const batch = intFlag(args, "batch", 1);
  if (runs < 1 || batch < 1) throw new UsageError("--runs and --batch must be at least 1");
  const dtype = one(args, "dtype") ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") throw new UsageError(`--dtype must be f32 or f16, got '${dtype}'`);
  const ctx = await getGpu();
  const storage = dtype === "f16" && !ctx.features.includes("shader-f16") ? "f32" : dtype;
  if (storage !== dtype) process.stderr.write(`tesserae: the adapter has no shader-f16: benchmarking f32 instead\n`);
  const log = (s: string): void => void process.stderr.write(s + "\n");
  const records: BenchRecord[] = [];
  for (const graph of args.positional) {
    const program = compileFile(graph, { preset: one(args, "preset"), overrides: overrides(args) });
    const input = program.graph.nodes[program.graph.inputs[0].node];
    const shape = input.shape.map((d) => (typeof d === "number" ? d : batch));
    log(`${graph}: ${program.name} [${shape.join(", ")}], ${runs} runs per engine, random weights`);
    records.push(...(await benchEngines(
      { name: graph, program, preset: one(args, "preset") ?? "", inputs: new Map([[program.graph.inputs[0].name, randomTensor(shape, rng(1))]]), weights: randomWeights(program.graph, 0) },
      { runs, engines: args.switches.has("no-fuse") ? ["tesserae-unfused"] : ["tesserae", "tesserae-unfused"], storage, log },
    )));
  }
  process.stdout.write(markdownTable(records));
  const out = one(args, "out");
  if (out) writeFileSync(out, JSON.stringify(records, null, 2) + "\n");
  return 0;
}
