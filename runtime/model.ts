// A compiled graph on a device with its weights: preprocessing, the run, the token layout and scores,
// with nothing tied to Node, so the same class serves the library API, compiled artifacts and a page.
import type { Program } from "../core/program.ts";
import { branchInputs } from "../core/preprocess.ts";
import { dimToString, type Dim } from "../core/dims.ts";
import type { Graph } from "../core/graph.ts";
import type { Plan } from "../core/plan.ts";
import { InputError, UsageError } from "../core/errors.ts";
import { Executor } from "./executor/executor.ts";
import type { GpuContext } from "./gpu-context.ts";
import type { RgbImage } from "./image/image.ts";
import { ImageError } from "./image/image.ts";
import { toRgb, type ImageLike } from "./image/rgb.ts";
import { anyresStep, anyresTiles, padViews, unpadViews } from "./image/anyres-batch.ts";
import type { Grid } from "./geometry.ts";
import { imageInputs, preprocessedInputs, providedInputs, type MediaInputs, type VideoFrames } from "./inputs.ts";
import { encodeTexts, type TextTokenizer } from "./layout/encode.ts";
import { itemsFromGeometry } from "./layout/items.ts";
import { buildLayout, LayoutError } from "./layout/sequence.ts";
import type { TokenLayout } from "./layout/types.ts";
import type { HostTensor, WeightSource } from "./tensor.ts";
import type { Preprocessed } from "./preprocess.ts";
import { batchForMemory } from "./batch-size.ts";

/** What a caller hears about while a model loads and runs; nothing is written to stderr. */
export interface ModelEvents {
  /** Something the caller should know but that does not stop the work (no token layout, non-finite weights). */
  onWarning?: (message: string) => void;
  /** Fraction of a run's work done, (0..1]. */
  onProgress?: (fraction: number) => void;
}

export interface ModelOptions extends ModelEvents {
  /** Tokenizes prompts (token layout) and texts (`score`); without one, text has no ids. */
  tokenizer?: TextTokenizer | null;
  /** Decodes images given as a path or URL (a string) or as encoded bytes; Node's API passes its PNG/JPEG decoder. */
  decode?: (image: string | Uint8Array, name: string) => Promise<RgbImage>;
}

/** An image: decoded pixels (RGB or RGBA, e.g. `ImageData`), encoded PNG/JPEG bytes, or a path (Node). */
export type ImageInput = ImageLike | Uint8Array | ArrayBuffer | string;

/** A graph input or output: name, element type and shape (symbolic dims as their formula). */
export interface TensorSpec {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

/** Pixel values made elsewhere (a Hugging Face processor), with the geometry the graph's computed inputs need. */
export interface PixelValues {
  pixel_values: HostTensor;
  /** Qwen graphs: each image's (t, h, w) patch grid. */
  grid_thw?: readonly Grid[];
  /** DeepSeek-VL2: each image's tiles (w, h); LLaVA-NeXT derives them from image_sizes. */
  images_spatial_crop?: readonly [number, number][];
  /** LLaVA-NeXT: each image's (height, width); its pixel_values may be the processor's padded [images, max_views, 3, H, W]. */
  image_sizes?: readonly [number, number][];
  /** Further image tensors the processor gives, by graph input (DeepSeek-VL hybrid: `high_res_pixel_values`). */
  branches?: Readonly<Record<string, HostTensor>>;
  /** InternVL: each image's views (tiles and thumbnail) among pixel_values' rows, for the token layout. */
  num_patches?: readonly number[];
  /** Gemma 3: each image's pan-and-scan crops (its views besides the image itself), for the token layout. */
  num_crops?: readonly number[];
  /** SigLIP 2 NaFlex: each image's patch grid (height, width) among pixel_values' padded rows. */
  spatial_shapes?: readonly [number, number][];
}

/** What a run takes: images (decoded, in row order) or ready pixel values. */
export type ModelInput = readonly ImageInput[] | PixelValues;

export interface InputOptions {
  /** Names of the images, for messages (default `image 0`, `image 1`, ...). */
  names?: readonly string[];
  /** Videos as decoded frames (Qwen graphs); their rows follow the images'. */
  videos?: readonly VideoFrames[];
}

export interface RunOptions extends InputOptions {
  /** The text around the images, `<image>` / `<video>` marking their places, for the token layout. */
  prompt?: string;
  onProgress?: (fraction: number) => void;
}

/** The graph's inputs for some images or pixel values, before any GPU work. */
export interface Prepared extends MediaInputs {
  names: string[];
  fromPixelValues: boolean;
}

export interface ModelOutput {
  /** Every graph output by name. */
  outputs: Record<string, HostTensor>;
  /** The pixel values the graph ran on, as the model's Hugging Face processor gives them (LLaVA-NeXT: [images, max_views, 3, H, W], zero-padded). */
  pixelValues: HostTensor;
  /** The other image tensors it ran on, by graph input (DeepSeek-VL hybrid: `high_res_pixel_values`). */
  branches: Record<string, HostTensor>;
  prepared: Prepared;
  /** The token layout for the prompt (or one mark per image without one), when the graph declares a layout. */
  layout: TokenLayout | null;
  /** Wall time of the run, submit to results. */
  ms: number;
}

export interface Scores {
  /** probs[i][j]: how well image i matches text j (softmax over texts for CLIP, sigmoid for SigLIP). */
  probs: number[][];
  inputIds: number[][];
  /** The pixel values the images became. */
  pixelValues: HostTensor;
  outputs: Record<string, HostTensor>;
}

/** A dim as data: a number, or a symbolic dim's formula (`"B"`, `"(N/4)"`). */
export const dimText = (d: Dim): number | string => (typeof d === "number" ? d : dimToString(d));

/** Inputs or outputs of a graph as data. */
export function tensorSpecs(g: Graph, list: readonly { name: string; node: number }[]): TensorSpec[] {
  return list.map(({ name, node }) => ({ name, dtype: g.nodes[node].dtype, shape: g.nodes[node].shape.map(dimText) }));
}

export class Model {
  private constructor(
    readonly program: Program,
    readonly plan: Plan,
    private readonly executor: Executor,
    readonly adapter: string,
    /** The optional WebGPU features the device gave (shader-f16, subgroups, timestamp-query). */
    readonly features: readonly string[],
    private readonly options: ModelOptions,
    private readonly bindingLimit: number,
  ) {}

  /** Uploads the weights and creates the pipelines. */
  static async create(ctx: GpuContext, program: Program, plan: Plan, weights: WeightSource, options: ModelOptions = {}): Promise<Model> {
    const executor = await Executor.load(ctx, plan, weights);
    return new Model(program, plan, executor, ctx.adapterName, ctx.features, options, ctx.device.limits.maxStorageBufferBindingSize);
  }

  get name(): string {
    return this.program.name;
  }

  get inputs(): TensorSpec[] {
    return tensorSpecs(this.program.graph, this.program.graph.inputs);
  }

  get outputs(): TensorSpec[] {
    return tensorSpecs(this.program.graph, this.program.graph.outputs);
  }

  /** How many images one run takes within a GPU memory budget (bytes) beyond the weights, at most `max`. */
  batchFor(budget: number, max?: number): number {
    return batchForMemory(this.plan, this.program.symbols, budget, this.bindingLimit, max);
  }

  /** Preprocessing as the graph declares it, or the computed inputs of ready pixel values. */
  prepare(input: ModelInput, options: InputOptions = {}, texts: number[][] = []): Promise<Prepared> {
    return prepareInputs(this.program, input, options, this.options.decode, texts);
  }

  /**
   * The LLM token sequence for images (or prepared inputs) and a prompt, without running the graph.
   * Throws LayoutError when the prompt does not fit the images; UsageError when the graph has no layout.
   */
  async layout(input: ModelInput | Prepared, prompt?: string, options: InputOptions = {}): Promise<TokenLayout> {
    return this.layoutOf(isPrepared(input) ? input : await this.prepare(input, options), prompt);
  }

  private layoutOf(prepared: Prepared, prompt: string | undefined): TokenLayout {
    return layoutOf(this.program, prepared, prompt, this.options.tokenizer ?? null);
  }

  /** Runs the graph on images or pixel values: every output, the pixel values and the token layout. */
  async run(input: ModelInput | Prepared, options: RunOptions = {}): Promise<ModelOutput> {
    const prepared = isPrepared(input) ? input : await this.prepare(input, options);
    if (!this.program.layout && options.prompt !== undefined)
      throw new UsageError(`a prompt was given, but ${this.name} declares no layout section`);
    // Made before the run, so a prompt that does not fit the images fails before any GPU work.
    const layout = this.tokenLayout(prepared, options.prompt);
    const result = await this.executor.run(prepared.inputs, { onProgress: options.onProgress ?? this.options.onProgress });
    const outputs = Object.fromEntries(result.outputs);
    const embeds = outputs.image_embeds;
    const rows = embeds ? embeds.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 0;
    if (layout && embeds && layout.image_rows !== rows) {
      throw new InputError(
        `the layout of ${this.name} places ${layout.image_rows} image tokens, but image_embeds has ${rows} rows: the graph's layout section does not match its outputs`,
      );
    }
    return { outputs, pixelValues: this.processorPixelValues(prepared), branches: prepared.branches, prepared, layout, ms: result.ms };
  }

  /** The pixel values in the form the model's Hugging Face processor gives them (LLaVA-NeXT: padded 5-D). */
  private processorPixelValues(prepared: Prepared): HostTensor {
    return anyresStep(this.program) ? padViews(prepared.pixels, prepared.tiles) : prepared.pixels;
  }

  private tokenLayout(prepared: Prepared, prompt: string | undefined): TokenLayout | null {
    if (!this.program.layout) return null;
    try {
      return this.layoutOf(prepared, prompt);
    } catch (e) {
      // Items known only from pixel values may lack what the layout counts: say so, keep the run.
      if (!prepared.fromPixelValues || prompt !== undefined || !(e instanceof LayoutError)) throw e;
      this.options.onWarning?.(`no token layout: ${e.message}`);
      return null;
    }
  }

  /** The graph's own inputs by name (computed ones included), its outputs by name: no preprocessing. */
  async runTensors(inputs: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const result = await this.executor.run(new Map(Object.entries(inputs)), { onProgress: this.options.onProgress });
    return Object.fromEntries(result.outputs);
  }

  /**
   * Image-text scores of a contrastive graph (an `input_ids` input, a `context` config value and a
   * `probs` output): every image against every text, in one batch. Texts are strings (tokenized with
   * the model's tokenizer, padded and cut to the context as the HF processors do) or token ids.
   */
  async score(images: readonly ImageInput[], texts: readonly string[] | readonly number[][], options: InputOptions = {}): Promise<Scores> {
    const length = this.program.config.context;
    if (!this.program.graph.inputs.some((i) => i.name === "input_ids") || typeof length !== "number") {
      throw new UsageError(
        `${this.name} is not an image-text graph: it needs an input_ids input and a 'context' config value (the text length)`,
      );
    }
    if (images.length === 0 || texts.length === 0) throw new InputError(`${this.name}: score needs at least one image and one text`);
    const ids = this.textIds(texts, length);
    const prepared = await this.prepare(images, options, ids);
    prepared.inputs.set("input_ids", { shape: [ids.length * length], data: Float32Array.from(ids.flat()) });
    const result = await this.executor.run(prepared.inputs, { onProgress: this.options.onProgress });
    const outputs = Object.fromEntries(result.outputs);
    const probs = outputs.probs;
    if (!probs) throw new UsageError(`${this.name} has no 'probs' output`);
    return {
      probs: images.map((_, i) => Array.from(probs.data.subarray(i * ids.length, (i + 1) * ids.length))),
      inputIds: ids,
      pixelValues: prepared.pixels,
      outputs,
    };
  }

  /**
   * The outputs of a graph's text tower for some texts: a graph compiled to its text outputs only
   * (`compile(graph, { outputs: ["text_embeds"] })`), so it takes token ids and no images.
   */
  async embedTexts(texts: readonly string[] | readonly number[][]): Promise<Record<string, HostTensor>> {
    const length = this.program.config.context;
    const takesIds = this.program.graph.inputs.some((i) => i.name === "input_ids");
    const images = this.program.graph.inputs.filter(
      (i) => i.name !== "input_ids" && !this.program.providers.some((p) => p.input === i.name),
    );
    if (!takesIds || typeof length !== "number" || images.length > 0)
      throw new UsageError(
        `${this.name}: embedTexts needs a text tower alone (an input_ids input, a 'context' config value, no image inputs); compile the graph with outputs: ["text_embeds"]`,
      );
    if (texts.length === 0) throw new InputError(`${this.name}: embedTexts needs at least one text`);
    const ids = this.textIds(texts, length);
    const inputs = providedInputs(this.program, { grids: [], tiles: [], texts: ids }, "the texts");
    inputs.set("input_ids", { shape: [ids.length * length], data: Float32Array.from(ids.flat()) });
    const result = await this.executor.run(inputs, { onProgress: this.options.onProgress });
    return Object.fromEntries(result.outputs);
  }

  /** Texts as token ids of the text tower's length: strings through the tokenizer (padded and cut), ids checked. */
  private textIds(texts: readonly string[] | readonly number[][], length: number): number[][] {
    const ids = texts.every((t): t is string => typeof t === "string")
      ? encodeTexts(this.requireTokenizer(), texts, length)
      : (texts as readonly number[][]).map((t) => [...t]);
    const bad = ids.findIndex((t) => t.length !== length);
    if (bad >= 0) throw new InputError(`${this.name}: text ${bad} has ${ids[bad].length} token ids, but the text tower takes ${length}`);
    return ids;
  }

  private requireTokenizer(): TextTokenizer {
    if (!this.options.tokenizer)
      throw new UsageError(
        `${this.name}: score needs the checkpoint's tokenizer (tokenizer.json or spiece.model) to encode texts; give one, or give token ids`,
      );
    return this.options.tokenizer;
  }

  dispose(): void {
    this.executor.dispose();
  }
}

/** The graph's inputs for images (decoded with `decode` where they are paths or bytes) or pixel values. */
export async function prepareInputs(
  program: Program,
  input: ModelInput,
  options: InputOptions = {},
  decode?: ModelOptions["decode"],
  texts: number[][] = [],
): Promise<Prepared> {
  if (isPixelValues(input)) return fromPixelValues(program, input);
  if (!Array.isArray(input)) throw new InputError(`${program.name}: give a list of images, or { pixel_values }`);
  const names = input.map((img, i) => options.names?.[i] ?? (typeof img === "string" ? img : `image ${i}`));
  const images = await Promise.all(input.map((img, i) => decoded(img, names[i], decode)));
  if (images.length + (options.videos?.length ?? 0) === 0)
    throw new InputError(`${program.name}: nothing to run on: give at least one image`);
  return { ...imageInputs(program, images, names, options.videos ?? [], texts), names, fromPixelValues: false };
}

/** Prepared inputs of images preprocessed elsewhere (on worker threads) with the graph's own steps. */
export function preparedFrom(program: Program, stills: readonly Preprocessed[], names: readonly string[]): Prepared {
  if (stills.length === 0) throw new InputError(`${program.name}: nothing to run on: give at least one image`);
  return { ...preprocessedInputs(program, stills, names), names: [...names], fromPixelValues: false };
}

/** The token layout of prepared inputs; UsageError when the graph declares none, LayoutError when the prompt does not fit. */
export function layoutOf(program: Program, prepared: Prepared, prompt: string | undefined, tokenizer: TextTokenizer | null): TokenLayout {
  if (!program.layout) throw new UsageError(`${program.name} declares no layout section`);
  return buildLayout(program.layout, prepared.items, prompt, tokenizer);
}

async function decoded(image: ImageInput, name: string, decode: ModelOptions["decode"]): Promise<RgbImage> {
  if (typeof image === "object" && image !== null && "width" in image) return toRgb(image, name);
  const encoded = image instanceof ArrayBuffer ? new Uint8Array(image) : image;
  if (typeof encoded !== "string" && !(encoded instanceof Uint8Array))
    throw new ImageError(`image ${name}: not an image (give decoded pixels, encoded bytes or a path)`);
  if (!decode)
    throw new ImageError(
      `image ${name}: ${typeof encoded === "string" ? "paths and URLs" : "encoded images"} cannot be decoded here; give decoded pixels (ImageData or { width, height, data })`,
    );
  return decode(encoded, name);
}

function fromPixelValues(program: Program, input: PixelValues): Prepared {
  let pixels = input.pixel_values;
  if (!pixels || !(pixels.data instanceof Float32Array) || !Array.isArray(pixels.shape))
    throw new InputError(`${program.name}: pixel_values must be a tensor ({ shape, data: Float32Array })`);
  let grids = [...(input.grid_thw ?? [])];
  let tiles = [...(input.images_spatial_crop ?? [])];
  const sizes = [...(input.image_sizes ?? [])];
  // Pixtral: each padded image's grid follows from its size.
  const fit = program.preprocess.find((s) => s.op === "fit_patches");
  if (fit && grids.length === 0) grids = fittedGrids(program.name, pixels, sizes, fit.patch);
  // SigLIP 2 NaFlex: the grids are the processor's spatial_shapes.
  if (program.preprocess.some((s) => s.op === "flat_patches") && grids.length === 0) {
    grids = (input.spatial_shapes ?? []).map(([h, w]): Grid => [1, h, w]);
    if (grids.length !== pixels.shape[0])
      throw new InputError(
        `${program.name}: pixel_values holds ${pixels.shape[0]} images, but spatial_shapes has ${grids.length} rows (the processor gives both)`,
      );
  }
  const anyres = anyresStep(program);
  // LLaVA-NeXT: the tiles follow from the sizes; the processor's padded 5-D batch runs without its padding views.
  if (anyres && tiles.length === 0) tiles = sizes.map((s) => anyresTiles(anyres, s));
  if (anyres && pixels.shape.length === 5) pixels = unpadViews(pixels, tiles);
  const count = grids.length || tiles.length || pixels.shape[0];
  const names = Array.from({ length: count }, (_, i) => `pixel_values[${i}]`);
  const inputs = providedInputs(program, { grids, tiles, sizes }, "pixel_values");
  inputs.set(program.graph.inputs[0]?.name ?? "pixel_values", pixels);
  const branches = givenBranches(program, input, pixels);
  for (const [name, t] of Object.entries(branches)) inputs.set(name, t);
  // InternVL's processor gives each image's views, Gemma 3's its pan-and-scan crops besides the image.
  const views = input.num_patches ? [...input.num_patches] : (input.num_crops ?? []).map((c) => c + 1);
  const rows = views.reduce((a, b) => a + b, 0);
  if (views.length > 0 && rows !== pixels.shape[0])
    throw new InputError(
      `${program.name}: ${input.num_patches ? "num_patches adds" : "num_crops and the images add"} up to ${rows} views, but pixel_values has ${pixels.shape[0]} rows`,
    );
  const crop = program.preprocess.find((s) => s.op === "crop_to_patches");
  const tokens = crop ? views.map((v) => v * crop.tokens) : [];
  const items = itemsFromGeometry(views.length > 0 ? views.map((_, i) => `pixel_values[${i}]`) : names, grids, tiles, tokens, views);
  return { inputs, pixels, branches, views, grids, tiles, sizes, items, names, fromPixelValues: true };
}

/** fit_patches graphs: (1, h / patch, w / patch) per image_sizes row, each within the padded batch. */
function fittedGrids(name: string, pixels: HostTensor, sizes: readonly [number, number][], patch: number): Grid[] {
  const [n, , hMax, wMax] = pixels.shape;
  if (sizes.length !== n)
    throw new InputError(`${name}: pixel_values holds ${n} images, but image_sizes has ${sizes.length} rows (the processor gives both)`);
  return sizes.map(([h, w], i): Grid => {
    if (h > hMax || w > wMax || h % patch !== 0 || w % patch !== 0)
      throw new InputError(`${name}: image_sizes row ${i} (${h}x${w}) must be multiples of ${patch} within pixel_values' ${hMax}x${wMax}`);
    return [1, h / patch, w / patch];
  });
}

/** The branch tensors a graph takes besides pixel_values, each a tensor with one row per image. */
function givenBranches(program: Program, input: PixelValues, pixels: HostTensor): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const name of branchInputs(program.preprocess)) {
    const t = input.branches?.[name];
    if (!t)
      throw new InputError(
        `${program.name} takes ${name} besides pixel_values (its processor gives both); pixel values need ${name} with them`,
      );
    if (!(t.data instanceof Float32Array) || t.shape[0] !== pixels.shape[0])
      throw new InputError(
        `${program.name}: ${name} must be a tensor with one row per image (${pixels.shape[0]}), got [${t.shape.join(", ")}]`,
      );
    out[name] = t;
  }
  return out;
}

function isPixelValues(input: ModelInput | Prepared): input is PixelValues {
  return !Array.isArray(input) && typeof input === "object" && input !== null && "pixel_values" in input;
}

function isPrepared(input: ModelInput | Prepared): input is Prepared {
  return !Array.isArray(input) && typeof input === "object" && input !== null && "items" in input && "inputs" in input;
}
