import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import { load } from "../../api/load.ts";
import { describeWeights } from "../../api/load.ts";
import { UsageError } from "../../core/errors.ts";
import { branchInputs, type PreprocessStep } from "../../core/preprocess.ts";
import { layoutJson } from "../../runtime/layout/json.ts";
import type { ModelOutput, PixelValues, Prepared } from "../../runtime/model.ts";
import type { Grid } from "../../runtime/geometry.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { WeightsError } from "../../core/errors.ts";
import { SafetensorsFile, writeSafetensors } from "../../runtime/weights/safetensors.ts";
import { intFlag, one, parseArgs } from "../args.ts";
import { framePaths, readFrames, videoFps } from "../frames.ts";
import { progressReporter } from "../progress.ts";
import { compileFromArgs, dtypeFlag, MODEL_FLAGS, requireGraph, seedOf, targetFlag, warn } from "../load.ts";
import { describeTensor } from "../summary.ts";
import { readImage } from "../../runtime/image/decode.ts";
import { io } from "../io.ts";

/**
 * pixel_values from a safetensors file, with grid_thw (or image_grid_thw), images_spatial_crop and image_sizes
 * when the file has them, and the further image tensors the graph takes (`branches`: high_res_pixel_values).
 */
function pixelValuesFrom(path: string, branches: readonly string[]): PixelValues {
  const f = SafetensorsFile.open(path);
  try {
    if (!f.tensors.has("pixel_values"))
      throw new WeightsError(`${path}: no tensor 'pixel_values' (it has ${[...f.tensors.keys()].join(", ") || "none"})`);
    const gridName = ["grid_thw", "image_grid_thw"].find((n) => f.tensors.has(n));
    const grids: Grid[] = [];
    if (gridName) {
      const { shape, values } = f.readIntegers(gridName);
      if (shape.length !== 2 || shape[1] !== 3)
        throw new WeightsError(`${path}: tensor '${gridName}' must be [images, 3], got [${shape.join(", ")}]`);
      for (let i = 0; i < shape[0]; i++) grids.push([values[3 * i], values[3 * i + 1], values[3 * i + 2]]);
    }
    const pairs = (name: string): [number, number][] => {
      if (!f.tensors.has(name)) return [];
      const { shape, values } = f.readIntegers(name);
      if (shape.length !== 2 || shape[1] !== 2)
        throw new WeightsError(`${path}: tensor '${name}' must be [images, 2], got [${shape.join(", ")}]`);
      return Array.from({ length: shape[0] }, (_, i): [number, number] => [values[2 * i], values[2 * i + 1]]);
    };
    return {
      pixel_values: f.read("pixel_values"),
      grid_thw: grids,
      images_spatial_crop: pairs("images_spatial_crop"),
      image_sizes: pairs("image_sizes"),
      spatial_shapes: pairs("spatial_shapes"),
      branches: Object.fromEntries(branches.filter((b) => f.tensors.has(b)).map((b) => [b, f.read(b)])),
      num_patches: f.tensors.has("num_patches") ? f.readIntegers("num_patches").values : undefined,
      num_crops: f.tensors.has("num_crops") ? f.readIntegers("num_crops").values : undefined,
    };
  } finally {
    f.close();
  }
}

const LONG_RUN_MS = 60_000;

type Integers = { shape: number[]; data: BigInt64Array };
const integers = (rows: readonly (readonly number[])[]): Integers => ({
  shape: [rows.length, rows[0]?.length ?? 0],
  data: BigInt64Array.from(rows.flat().map(BigInt)),
});

/** The tensors `--out` writes: pixel values, outputs, and the geometry a Hugging Face processor gives. */
function outTensors(last: ModelOutput, steps: readonly PreprocessStep[]): Map<string, HostTensor | Integers> {
  const { grids, tiles, sizes, items } = last.prepared;
  const tensors = new Map<string, HostTensor | Integers>([
    ["pixel_values", last.pixelValues],
    ...Object.entries(last.branches),
    ...Object.entries(last.outputs),
  ]);
  // Pixtral's processor gives image_sizes, the grids following from them; SigLIP 2's gives spatial_shapes and the mask.
  if (steps.some((s) => s.op === "flat_patches")) {
    const [n, length] = last.pixelValues.shape;
    const mask = new BigInt64Array(n * length);
    grids.forEach(([, h, w], i) => mask.fill(1n, i * length, i * length + h * w));
    tensors.set("pixel_attention_mask", { shape: [n, length], data: mask });
    tensors.set("spatial_shapes", integers(grids.map(([, h, w]) => [h, w])));
  } else if (grids.length > 0 && !steps.some((s) => s.op === "fit_patches")) tensors.set("grid_thw", integers(grids));
  const videoGrids = items.filter((i) => i.kind === "video").map((i) => i.grid as Grid);
  if (videoGrids.length > 0) tensors.set("video_grid_thw", integers(videoGrids));
  if (sizes.length > 0) tensors.set("image_sizes", integers(sizes));
  // InternVL's processor gives each image's view count, Gemma 3's its pan-and-scan crops.
  const views = last.prepared.views;
  if (views.length > 0 && steps.some((s) => s.op === "pan_and_scan"))
    tensors.set("num_crops", { shape: [views.length], data: BigInt64Array.from(views.map((v) => BigInt(v - 1))) });
  else if (views.length > 0) tensors.set("num_patches", { shape: [views.length], data: BigInt64Array.from(views.map(BigInt)) });
  // DeepSeek-VL2's processor gives images_spatial_crop; LLaVA-NeXT's gives image_sizes, the tiles following from them;
  // Idefics3's gives pixel_attention_mask (views are never padded here: all ones).
  if (steps.some((s) => s.op === "split_grid") && last.pixelValues.shape.length === 5) {
    const [n, v, , h, w] = last.pixelValues.shape;
    tensors.set("pixel_attention_mask", { shape: [n, v, h, w], data: new BigInt64Array(n * v * h * w).fill(1n) });
  } else if (tiles.length > 0 && sizes.length === 0) tensors.set("images_spatial_crop", integers(tiles));
  return tensors;
}

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    {
      values: [...MODEL_FLAGS, "image", "pixel-values", "out", "dtype", "runs", "prompt", "tokenizer", "video", "video-fps", "target"],
      repeatable: ["set", "image", "video"],
      switches: ["no-fuse"],
    },
    "run",
  );
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
  if (images.length + videos.length === 0 && !pixelPath)
    throw new UsageError("nothing to run on: give --image PATH (repeatable), --video FRAMES or --pixel-values FILE");
  if (outPath) {
    const inputsGiven = [...images, ...videos.flatMap(framePaths), pixelPath, one(args, "weights"), graphPath]
      .filter((p): p is string => p !== undefined)
      .map((p) => resolve(p));
    if (inputsGiven.includes(resolve(outPath))) throw new UsageError(`--out ${outPath} would overwrite one of the inputs`);
    const weightsDir = one(args, "weights");
    if (weightsDir && existsSync(outPath) && resolve(outPath).startsWith(resolve(weightsDir) + sep)) {
      throw new UsageError(`--out ${outPath} would overwrite a file of the checkpoint in ${weightsDir}`);
    }
  }
  const dtype = dtypeFlag(args);
  const fuse = !args.switches.has("no-fuse");

  const t0 = performance.now();
  const compiled = compileFromArgs(graphPath, args, { dtype, fuse });
  const tCompile = performance.now();
  const prompt = one(args, "prompt");
  if (!compiled.program.layout && prompt !== undefined) throw new UsageError(`--prompt: ${graphPath} declares no layout section`);
  // Inputs are read before the device and the weights, so an unreadable image fails at once.
  const clips = await Promise.all(videos.map(async (v) => ({ frames: await readFrames(v), name: v, fps })));
  const given = pixelPath
    ? pixelValuesFrom(pixelPath, branchInputs(compiled.program.preprocess))
    : await Promise.all(images.map((path) => readImage(path)));
  const tRead = performance.now();
  const loadOptions = { seed: seedOf(args), tokenizer: one(args, "tokenizer"), onWarning: warn, target: targetFlag(args) };
  const model = await load(compiled, loadOptions);
  const tLoad = performance.now();
  const times: number[] = [];
  let last: ModelOutput | undefined;
  let skippedWarm = false;
  let tPre = tLoad;
  let prepared: Prepared;
  // Released on failure too: main() may run in a process that goes on (the tests call it in theirs).
  try {
    prepared = await model.prepare(given, { names: images, videos: clips });
    tPre = performance.now();
    for (let r = 0; r < runs; r++) {
      // A run of over a minute is not repeated just to time it, unless --runs asked for it.
      if (r === 1 && !runsGiven && times[0] > LONG_RUN_MS) {
        skippedWarm = true;
        break;
      }
      const progress = progressReporter(runs > 1 ? `run ${r + 1}/${runs}` : "running");
      last = await model.run(prepared, { prompt, onProgress: progress.update });
      progress.finish();
      times.push(last.ms);
    }
  } finally {
    model.dispose();
  }
  const result = last as ModelOutput;

  const err = io().err;
  const cfg = Object.entries(compiled.config)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(" ");
  err.write(`model      ${compiled.name} (${graphPath}), ${describeWeights(compiled, loadOptions)}\n`);
  err.write(`config     ${cfg}\n`);
  const shapedFor = model.plan.targetClass ? `${model.plan.targetClass}-class kernels` : "portable kernels";
  err.write(`adapter    ${model.adapter}; features ${model.features.join(", ") || "none"}; ${shapedFor}\n`);
  const { grids, tiles } = prepared;
  const inputName = compiled.inputs[0]?.name ?? "pixel_values";
  const geometry = grids.length
    ? `  grids ${grids.map((g) => g.join("x")).join(", ")}`
    : tiles.length
      ? `  tiles ${tiles.map((t) => t.join("x")).join(", ")}`
      : "";
  err.write(`input      ${describeTensor(inputName, prepared.pixels)}${geometry}\n`);
  for (const [name, t] of Object.entries(prepared.branches)) err.write(`input      ${describeTensor(name, t)}\n`);
  for (const [name, t] of Object.entries(result.outputs)) err.write(`output     ${describeTensor(name, t)}\n`);
  const kinds = new Map<string, number>();
  for (const k of model.plan.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  const distinct = new Set(model.plan.kernels.map((k) => k.wgsl)).size;
  err.write(`dtype      ${model.plan.storage} storage, f32 arithmetic\n`);
  err.write(
    `kernels    ${model.plan.kernels.length} dispatches (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}), ${distinct} distinct pipelines${fuse ? "" : ", unfused"}\n`,
  );
  err.write(
    `time       compile ${(tCompile - t0).toFixed(0)} ms, device + weights checked, read, prepared and uploaded with pipelines ${(tLoad - tRead).toFixed(0)} ms, inputs read and preprocessed ${(tRead - tCompile + tPre - tLoad).toFixed(0)} ms\n`,
  );
  const warm = times.slice(1).sort((a, b) => a - b);
  const warmNote =
    warm.length === 1
      ? `, warm ${warm[0].toFixed(1)} ms`
      : warm.length > 1
        ? `, warm median ${warm[Math.floor(warm.length / 2)].toFixed(1)} ms (min ${warm[0].toFixed(1)}) over ${warm.length} runs`
        : skippedWarm
          ? " (no warm rerun of a run this long; --runs 2 times one)"
          : "";
  err.write(`run        cold ${times[0].toFixed(1)} ms${warmNote}\n`);
  err.write(`memory     peak resident ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);

  if (outPath) {
    const tensors = outTensors(result, compiled.program.preprocess);
    const tmp = `${outPath}.tmp-${process.pid}`;
    try {
      writeSafetensors(tmp, tensors, { graph: graphPath, model: compiled.name });
      renameSync(tmp, outPath);
    } finally {
      rmSync(tmp, { force: true });
    }
    err.write(`wrote      ${outPath} (${[...tensors.keys()].join(", ")})\n`);
    if (result.layout) {
      const layoutPath = outPath.replace(/(\.safetensors)?$/, ".layout.json");
      writeFileSync(layoutPath, layoutJson(compiled.name, result.layout));
      err.write(
        `wrote      ${layoutPath} (the token layout: ${result.layout.length ?? "unknown"} tokens, ${result.layout.image_rows} of them image tokens)\n`,
      );
    }
  } else {
    err.write("(use --out FILE to save the tensors as safetensors)\n");
  }
  return 0;
}
