import { existsSync, renameSync, rmSync } from "node:fs";
import { resolve, sep } from "node:path";
import { compileProgram } from "../../compiler/compile.ts";
import { UsageError } from "../../compiler/frontend.ts";
import { getGpu } from "../../runtime/device.ts";
import { Executor, type RunResult } from "../../runtime/executor.ts";
import { readImage } from "../../runtime/image/decode.ts";
import type { Program } from "../../compiler/elaborate/elaborate.ts";
import { providedInputs, type Grid } from "../../runtime/inputs.ts";
import { batchImages, preprocessImage } from "../../runtime/preprocess.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile, WeightsError, writeSafetensors } from "../../runtime/weights/safetensors.ts";
import { intFlag, one, parseArgs } from "../args.ts";
import { progressReporter } from "../progress.ts";
import { loadModel, MODEL_FLAGS, requireGraph } from "../load.ts";
import { describeTensor } from "../summary.ts";



/** pixel_values from a safetensors file, with grid_thw (or image_grid_thw) and images_spatial_crop when the file has them. */
function pixelValuesFrom(path: string): { tensor: HostTensor; grids: Grid[]; tiles: [number, number][] } {
  const f = SafetensorsFile.open(path);
  try {
    if (!f.tensors.has("pixel_values")) throw new WeightsError(`${path}: no tensor 'pixel_values' (it has ${[...f.tensors.keys()].join(", ") || "none"})`);
    const gridName = ["grid_thw", "image_grid_thw"].find((n) => f.tensors.has(n));
    const grids: Grid[] = [];
    if (gridName) {
      const { shape, values } = f.readIntegers(gridName);
      if (shape.length !== 2 || shape[1] !== 3) throw new WeightsError(`${path}: tensor '${gridName}' must be [images, 3], got [${shape.join(", ")}]`);
      for (let i = 0; i < shape[0]; i++) grids.push([values[3 * i], values[3 * i + 1], values[3 * i + 2]]);
    }
    const tiles: [number, number][] = [];
    if (f.tensors.has("images_spatial_crop")) {
      const { shape, values } = f.readIntegers("images_spatial_crop");
      if (shape.length !== 2 || shape[1] !== 2) throw new WeightsError(`${path}: tensor 'images_spatial_crop' must be [images, 2], got [${shape.join(", ")}]`);
      for (let i = 0; i < shape[0]; i++) tiles.push([values[2 * i], values[2 * i + 1]]);
    }
    return { tensor: f.read("pixel_values"), grids, tiles };
  } finally {
    f.close();
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: [...MODEL_FLAGS, "image", "pixel-values", "out", "dtype", "runs"], repeatable: ["set", "image"], switches: ["no-fuse"] }, "run");
  const runs = intFlag(args, "runs", 1);
  if (runs < 1) throw new UsageError("--runs must be at least 1");
  const graphPath = requireGraph(args, "run");
  const images = args.values.get("image") ?? [];
  const pixelPath = one(args, "pixel-values");
  const outPath = one(args, "out");
  if (images.length > 0 && pixelPath) throw new UsageError("give either --image or --pixel-values, not both");
  if (images.length === 0 && !pixelPath) throw new UsageError("nothing to run on: give --image PATH (repeatable) or --pixel-values FILE");
  if (outPath) {
    const inputsGiven = [...images, pixelPath, one(args, "weights"), graphPath].filter((p): p is string => p !== undefined).map((p) => resolve(p));
    if (inputsGiven.includes(resolve(outPath))) throw new UsageError(`--out ${outPath} would overwrite one of the inputs`);
    const weightsDir = one(args, "weights");
    if (weightsDir && existsSync(outPath) && resolve(outPath).startsWith(resolve(weightsDir) + sep)) {
      throw new UsageError(`--out ${outPath} would overwrite a file of the checkpoint in ${weightsDir}`);
    }
  }

  const dtype = one(args, "dtype") ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") throw new UsageError(`--dtype must be f32 or f16, got '${dtype}'`);

  const tDevice = performance.now();
  const ctx = await getGpu();
  const t0 = performance.now();
  const model = loadModel(graphPath, args);
  const { program } = model;
  const storage = dtype === "f16" && !ctx.features.includes("shader-f16") ? "f32" : dtype;
  if (storage !== dtype) process.stderr.write(`tesserae: the adapter (${ctx.adapterName}) has no shader-f16: running in f32 instead\n`);
  const plan = compileProgram(program, { fuse: !args.switches.has("no-fuse"), storage });
  const tCompile = performance.now();

  let pixels: HostTensor;
  let grids: Grid[];
  let tiles: [number, number][];
  if (pixelPath) {
    ({ tensor: pixels, grids, tiles } = pixelValuesFrom(pixelPath));
  } else {
    const decoded = await Promise.all(images.map((p) => readImage(p)));
    const options = { cropping: images.length <= 2 };
    ({ tensor: pixels, grids, tiles } = batchImages(decoded.map((img, i) => preprocessImage(program.preprocess, img, images[i], options)), images));
  }
  const provided = providedInputs(program, grids, tiles, pixelPath ?? "the images");
  const tPre = performance.now();
  const weights = model.loadWeights(program.graph);
  const tWeights = performance.now();
  const executor = await Executor.load(ctx, plan, weights);
  const tLoad = performance.now();
  const inputName = program.graph.inputs[0]?.name ?? "pixel_values";
  const inputs = new Map([[inputName, pixels], ...provided]);
  const times: number[] = [];
  let result: RunResult | undefined;
  for (let r = 0; r < runs; r++) {
    const progress = progressReporter(runs > 1 ? `run ${r + 1}/${runs}` : "running");
    result = await executor.run(inputs, { onProgress: progress.update });
    progress.finish();
    times.push(result.ms);
  }
  executor.dispose();
  const warm = result as RunResult;

  const err = process.stderr;
  const cfg = Object.entries(program.config).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
  err.write(`model      ${program.name} (${graphPath}), ${model.weightsNote}\n`);
  err.write(`config     ${cfg}\n`);
  err.write(`adapter    ${ctx.adapterName}\n`);
  const layout = grids.length ? `  grids ${grids.map((g) => g.join("x")).join(", ")}` : tiles.length ? `  tiles ${tiles.map((t) => t.join("x")).join(", ")}` : "";
  err.write(`input      ${describeTensor(inputName, pixels)}${layout}\n`);
  for (const [name, t] of warm.outputs) err.write(`output     ${describeTensor(name, t)}\n`);
  const kinds = new Map<string, number>();
  for (const k of plan.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  const distinct = new Set(plan.kernels.map((k) => k.wgsl)).size;
  err.write(`dtype      ${storage} storage, f32 arithmetic\n`);
  err.write(`kernels    ${plan.kernels.length} dispatches (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}), ${distinct} distinct pipelines${args.switches.has("no-fuse") ? ", unfused" : ""}\n`);
  err.write(`time       device ${(t0 - tDevice).toFixed(0)} ms, compile ${(tCompile - t0).toFixed(0)} ms, preprocess ${(tPre - tCompile).toFixed(0)} ms, weights ${(tWeights - tPre).toFixed(0)} ms, upload+pipelines ${(tLoad - tWeights).toFixed(0)} ms\n`);
  const later = times.slice(1).sort((a, b) => a - b);
  const warmNote = later.length > 0 ? `, then median ${later[Math.floor(later.length / 2)].toFixed(1)} ms over ${later.length} more` : " (the first run includes the driver's shader compilation; --runs N times more)";
  err.write(`run        first ${times[0].toFixed(1)} ms${warmNote}\n`);
  err.write(`memory     peak resident ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);

  if (outPath) {
    const tensors = new Map<string, HostTensor | { shape: number[]; data: BigInt64Array }>([["pixel_values", pixels], ...warm.outputs]);
    if (grids.length > 0) tensors.set("grid_thw", { shape: [grids.length, 3], data: BigInt64Array.from(grids.flat().map(BigInt)) });
    if (tiles.length > 0) tensors.set("images_spatial_crop", { shape: [tiles.length, 2], data: BigInt64Array.from(tiles.flat().map(BigInt)) });
    const tmp = `${outPath}.tmp-${process.pid}`;
    try {
      writeSafetensors(tmp, tensors, { graph: graphPath, model: program.name });
      renameSync(tmp, outPath);
    } finally {
      rmSync(tmp, { force: true });
    }
    err.write(`wrote      ${outPath} (${[...tensors.keys()].join(", ")})\n`);
  } else {
    err.write("(use --out FILE to save the tensors as safetensors)\n");
  }
  return 0;
}
