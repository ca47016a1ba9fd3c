import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import { compileProgram } from "../../compiler/compile.ts";
import { loadTilings } from "../../tune/cache.ts";
import { UsageError } from "../../compiler/frontend.ts";
import { getGpu } from "../../runtime/device.ts";
import { Executor, InputError, type RunResult } from "../../runtime/executor.ts";
import { itemsFromGeometry } from "../../runtime/layout/items.ts";
import type { LayoutItem } from "../../runtime/layout/sequence.ts";
import { framePaths, readFrames, videoFps } from "../frames.ts";
import { layoutJson } from "../../runtime/layout/json.ts";
import { tokenLayout } from "../../runtime/layout/token-layout.ts";
import { readImage } from "../../runtime/image/decode.ts";
import type { Program } from "../../compiler/elaborate/elaborate.ts";
import { imageInputs, providedInputs, type Grid } from "../../runtime/inputs.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile, WeightsError, writeSafetensors } from "../../runtime/weights/safetensors.ts";
import { intFlag, one, parseArgs } from "../args.ts";
import { progressReporter } from "../progress.ts";
import { loadModel, MODEL_FLAGS, requireGraph } from "../load.ts";
import { describeTensor } from "../summary.ts";



/** pixel_values from a safetensors file, with grid_thw (or image_grid_thw), images_spatial_crop and image_sizes when the file has them. */
function pixelValuesFrom(path: string): { tensor: HostTensor; grids: Grid[]; tiles: [number, number][]; sizes: [number, number][] } {
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
    const pairs = (name: string): [number, number][] => {
      if (!f.tensors.has(name)) return [];
      const { shape, values } = f.readIntegers(name);
      if (shape.length !== 2 || shape[1] !== 2) throw new WeightsError(`${path}: tensor '${name}' must be [images, 2], got [${shape.join(", ")}]`);
      return Array.from({ length: shape[0] }, (_, i): [number, number] => [values[2 * i], values[2 * i + 1]]);
    };
    return { tensor: f.read("pixel_values"), grids, tiles: pairs("images_spatial_crop"), sizes: pairs("image_sizes") };
  } finally {
    f.close();
  }
}

const LONG_RUN_MS = 60_000;

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: [...MODEL_FLAGS, "image", "pixel-values", "out", "dtype", "runs", "prompt", "tokenizer", "video", "video-fps"], repeatable: ["set", "image", "video"], switches: ["no-fuse"] }, "run");
  // Cold (pipelines compiled by the driver on first use) and warm, unless --runs says otherwise.
  const runsGiven = one(args, "runs") !== undefined;
  const runs = intFlag(args, "runs", 2);
  if (runs < 1) throw new UsageError("--runs must be at least 1");
  const graphPath = requireGraph(args, "run");
  const images = args.values.get("image") ?? [];
  const videos = args.values.get("video") ?? [];
  const fps = videoFps(one(args, "video-fps"));
  const pixelPath = one(args, "pixel-values");
  const outPath = one(args, "out");
  if (images.length + videos.length > 0 && pixelPath) throw new UsageError("give either --image/--video or --pixel-values, not both");
  if (images.length + videos.length === 0 && !pixelPath) throw new UsageError("nothing to run on: give --image PATH (repeatable), --video FRAMES or --pixel-values FILE");
  if (outPath) {
    const inputsGiven = [...images, ...videos.flatMap(framePaths), pixelPath, one(args, "weights"), graphPath].filter((p): p is string => p !== undefined).map((p) => resolve(p));
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
  const plan = compileProgram(program, { fuse: !args.switches.has("no-fuse"), storage, tilings: loadTilings(ctx.adapterName, undefined, ctx).table, target: ctx });
  const tCompile = performance.now();

  let pixels: HostTensor;
  let grids: Grid[];
  let tiles: [number, number][];
  let sizes: [number, number][];
  let items: LayoutItem[];
  let provided: Map<string, HostTensor>;
  if (pixelPath) {
    ({ tensor: pixels, grids, tiles, sizes } = pixelValuesFrom(pixelPath));
    provided = providedInputs(program, { grids, tiles, sizes }, pixelPath);
    const count = grids.length || tiles.length || pixels.shape[0];
    items = itemsFromGeometry(Array.from({ length: count }, (_, i) => `${pixelPath}[${i}]`), grids, tiles);
  } else {
    const decoded = await Promise.all(images.map((p) => readImage(p)));
    const clips = await Promise.all(videos.map(async (v) => ({ frames: await readFrames(v), name: v, fps })));
    ({ pixels, grids, tiles, sizes, items, inputs: provided } = imageInputs(program, decoded, images, clips));
  }
  // The layout is computed before the run, so a prompt that does not fit the images fails early.
  const layout = program.layout ? tokenLayout(program.layout, items, one(args, "prompt"), one(args, "tokenizer") ?? one(args, "weights"), pixelPath !== undefined) : null;
  if (!program.layout && one(args, "prompt")) throw new UsageError(`--prompt: ${graphPath} declares no layout section`);
  const tPre = performance.now();
  const weights = model.loadWeights(program.graph);
  const tWeights = performance.now();
  const executor = await Executor.load(ctx, plan, weights);
  const tLoad = performance.now();
  const inputName = program.graph.inputs[0]?.name ?? "pixel_values";
  const inputs = new Map([...provided, [inputName, pixels]]);
  const times: number[] = [];
  let result: RunResult | undefined;
  let skippedWarm = false;
  for (let r = 0; r < runs; r++) {
    // A run of over a minute is not repeated just to time it, unless --runs asked for it.
    if (r === 1 && !runsGiven && times[0] > LONG_RUN_MS) {
      skippedWarm = true;
      break;
    }
    const progress = progressReporter(runs > 1 ? `run ${r + 1}/${runs}` : "running");
    result = await executor.run(inputs, { onProgress: progress.update });
    progress.finish();
    times.push(result.ms);
  }
  executor.dispose();
  const last = result as RunResult;

  const err = process.stderr;
  const cfg = Object.entries(program.config).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
  err.write(`model      ${program.name} (${graphPath}), ${model.weightsNote}\n`);
  err.write(`config     ${cfg}\n`);
  err.write(`adapter    ${ctx.adapterName}\n`);
  const geometry = grids.length ? `  grids ${grids.map((g) => g.join("x")).join(", ")}` : tiles.length ? `  tiles ${tiles.map((t) => t.join("x")).join(", ")}` : "";
  err.write(`input      ${describeTensor(inputName, pixels)}${geometry}\n`);
  for (const [name, t] of last.outputs) err.write(`output     ${describeTensor(name, t)}\n`);
  const kinds = new Map<string, number>();
  for (const k of plan.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  const distinct = new Set(plan.kernels.map((k) => k.wgsl)).size;
  err.write(`dtype      ${storage} storage, f32 arithmetic\n`);
  err.write(`kernels    ${plan.kernels.length} dispatches (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}), ${distinct} distinct pipelines${args.switches.has("no-fuse") ? ", unfused" : ""}\n`);
  err.write(`time       device ${(t0 - tDevice).toFixed(0)} ms, compile ${(tCompile - t0).toFixed(0)} ms, preprocess ${(tPre - tCompile).toFixed(0)} ms, weights checked ${(tWeights - tPre).toFixed(0)} ms, read+prepared+uploaded with pipelines ${(tLoad - tWeights).toFixed(0)} ms\n`);
  const warm = times.slice(1).sort((a, b) => a - b);
  const warmNote = warm.length === 1 ? `, warm ${warm[0].toFixed(1)} ms`
    : warm.length > 1 ? `, warm median ${warm[Math.floor(warm.length / 2)].toFixed(1)} ms (min ${warm[0].toFixed(1)}) over ${warm.length} runs`
    : skippedWarm ? " (no warm rerun of a run this long; --runs 2 times one)" : "";
  err.write(`run        cold ${times[0].toFixed(1)} ms${warmNote}\n`);
  err.write(`memory     peak resident ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);

  const embeds = last.outputs.get("image_embeds");
  const embedRows = embeds ? embeds.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 0;
  if (layout && embeds && layout.image_rows !== embedRows) {
    throw new InputError(`the graph's layout places ${layout.image_rows} image tokens, but image_embeds has ${embedRows} rows: the layout section of ${graphPath} does not match its outputs`);
  }

  if (outPath) {
    const tensors = new Map<string, HostTensor | { shape: number[]; data: BigInt64Array }>([["pixel_values", pixels], ...last.outputs]);
    if (grids.length > 0) tensors.set("grid_thw", { shape: [grids.length, 3], data: BigInt64Array.from(grids.flat().map(BigInt)) });
    const videoGrids = items.filter((i) => i.kind === "video").map((i) => i.grid as Grid);
    if (videoGrids.length > 0) tensors.set("video_grid_thw", { shape: [videoGrids.length, 3], data: BigInt64Array.from(videoGrids.flat().map(BigInt)) });
    if (sizes.length > 0) tensors.set("image_sizes", { shape: [sizes.length, 2], data: BigInt64Array.from(sizes.flat().map(BigInt)) });
    if (tiles.length > 0) tensors.set("images_spatial_crop", { shape: [tiles.length, 2], data: BigInt64Array.from(tiles.flat().map(BigInt)) });
    const tmp = `${outPath}.tmp-${process.pid}`;
    try {
      writeSafetensors(tmp, tensors, { graph: graphPath, model: program.name });
      renameSync(tmp, outPath);
    } finally {
      rmSync(tmp, { force: true });
    }
    err.write(`wrote      ${outPath} (${[...tensors.keys()].join(", ")})\n`);
    if (layout) {
      const layoutPath = outPath.replace(/(\.safetensors)?$/, ".layout.json");
      writeFileSync(layoutPath, layoutJson(program.name, layout));
      err.write(`wrote      ${layoutPath} (the token layout: ${layout.length ?? "unknown"} tokens, ${layout.image_rows} of them image tokens)\n`);
    }
  } else {
    err.write("(use --out FILE to save the tensors as safetensors)\n");
  }
  return 0;
}
