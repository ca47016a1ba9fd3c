// The demo page: a compiled graph (plan.json + kernels from the server) run on navigator.gpu with the
// same runtime as in Node; the image as the model sees it, the token layout, and the kernels' times.
import type { Program } from "../core/program.ts";
import type { Plan } from "../core/plan.ts";
import { deserializePlan, parsePlanFile, type PlanFile } from "../core/serialize.ts";
import { Executor } from "../runtime/executor/executor.ts";
import { checkpointTensors, wantedBy, kernelFiles, programOf } from "../runtime/artifact.ts";
import { browserGpu } from "../runtime/browser-device.ts";
import { decodeInBrowser } from "../runtime/image/browser-decode.ts";
import type { GpuContext } from "../runtime/gpu-context.ts";
import type { Grid } from "../runtime/geometry.ts";
import { imageInputs } from "../runtime/inputs.ts";
import { buildLayout } from "../runtime/layout/sequence.ts";
import type { TokenLayout } from "../runtime/layout/types.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import { tensorsFromBuffer } from "../runtime/weights/safetensors-buffer.ts";
import { assembledTokenSource, qwenTokenSource, qwenView, squareView, type TokenSource, type View } from "./views.ts";

interface Loaded {
  name: string;
  file: PlanFile;
  plan: Plan;
  program: Program;
  executor: Executor;
  ctx: GpuContext;
}

/** What the browser test reads back. */
interface PageResult {
  ready: boolean;
  error?: string;
  model?: string;
  adapter?: string;
  outputs?: Record<string, { shape: number[]; data: number[] }>;
  layout?: { length: number | null; image_rows: number; segments: number };
  kernels?: { name: string; ms: number }[];
}
const page = window as unknown as { __tesserae: PageResult };
page.__tesserae = { ready: false };

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = (text: string, error = false): void => {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
};

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

const device = browserGpu;

const loaded = new Map<string, Promise<Loaded>>();
function load(name: string): Promise<Loaded> {
  let p = loaded.get(name);
  if (!p) {
    p = (async () => {
      const base = `/artifacts/${name}/`;
      const file = parsePlanFile(await (await fetchOk(`${base}plan.json`)).text(), `${base}plan.json`);
      const texts = new Map(await Promise.all(kernelFiles(file).map(async (n) => [n, await (await fetchOk(base + n)).text()] as const)));
      const plan = deserializePlan(file.plan, (n) => texts.get(n) as string);
      const tensors = tensorsFromBuffer(await (await fetchOk(`${base}model.safetensors`)).arrayBuffer(), `${base}model.safetensors`);
      const ctx = await device();
      const executor = await Executor.load(ctx, plan, checkpointTensors(wantedBy(file), tensors, `${base}model.safetensors`));
      const program = programOf(file, plan);
      return { name, file, plan, program, executor, ctx };
    })();
    loaded.set(name, p);
    p.catch(() => loaded.delete(name));
  }
  return p;
}

const numbers = (v: unknown, fallback: number[]): number[] =>
  Array.isArray(v) && v.every((x) => typeof x === "number") ? (v as number[]) : fallback;

/** The views to draw and, per image token of the layout, where it came from. */
function viewsOf(
  m: Loaded,
  pixels: HostTensor,
  grids: Grid[],
  tiles: [number, number][],
  inputs: Map<string, HostTensor>,
): { views: View[]; source: (imageToken: number) => TokenSource | null } {
  const cfg = m.program.config;
  const mean = numbers(cfg.mean, [0.5, 0.5, 0.5]);
  const std = numbers(cfg.std, [0.5, 0.5, 0.5]);
  const patch = Number(cfg.patch ?? 14);
  if (grids.length > 0) {
    const merge = Number(cfg.merge ?? 2);
    const view = qwenView(pixels, grids[0], 0, patch, merge, Number(cfg.temporal ?? 2), mean, std);
    return { views: [view], source: (j) => qwenTokenSource(j, grids[0], patch, merge) };
  }
  const count = pixels.shape[0];
  const views = Array.from({ length: count }, (_, v) =>
    squareView(
      pixels,
      v,
      patch,
      tiles.length > 0 ? (v === 0 ? "global / base view" : `tile ${v} of ${tiles[0][0]}x${tiles[0][1]}`) : `image ${v + 1}`,
      mean,
      std,
    ),
  );
  const assembly = inputs.get("assembly");
  const side = Number(cfg.side ?? Math.ceil(Number(cfg.image ?? pixels.shape[2]) / patch));
  return { views, source: (j) => (assembly ? assembledTokenSource(assembly.data[j], count, side, pixels.shape[2]) : null) };
}

/** Each drawn view's canvas: the picture without highlights, and its zoom. */
const drawn = new WeakMap<HTMLCanvasElement, { base: ImageData; scale: number }>();

function drawViews(views: View[]): HTMLCanvasElement[] {
  const box = $("views");
  box.replaceChildren();
  return views.map((v) => {
    const canvas = document.createElement("canvas");
    const scale = Math.max(1, Math.floor(320 / Math.max(v.width, v.height)));
    [canvas.width, canvas.height] = [v.width * scale, v.height * scale];
    canvas.className = "view";
    const img = new ImageData(v.rgba, v.width, v.height);
    const tmp = new OffscreenCanvas(v.width, v.height);
    (tmp.getContext("2d") as OffscreenCanvasRenderingContext2D).putImageData(img, 0, 0);
    const g = canvas.getContext("2d") as CanvasRenderingContext2D;
    g.imageSmoothingEnabled = false;
    g.drawImage(tmp, 0, 0, canvas.width, canvas.height);
    // Patch lines, then the coarser unit (Qwen's merge windows) over them when there is one.
    const grids =
      v.unit !== v.patch
        ? ([
            [v.patch, "rgba(255,255,255,0.45)", 1],
            [v.unit, "rgba(255,210,0,0.9)", 2],
          ] as const)
        : ([[v.patch, "rgba(255,255,255,0.45)", 1]] as const);
    for (const [step, style, width] of grids) {
      g.strokeStyle = style;
      g.lineWidth = width;
      for (let x = 0; x <= v.width; x += step) g.strokeRect(x * scale, 0, 0, canvas.height);
      for (let y = 0; y <= v.height; y += step) g.strokeRect(0, y * scale, canvas.width, 0);
    }
    drawn.set(canvas, { base: g.getImageData(0, 0, canvas.width, canvas.height), scale });
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = v.label;
    fig.append(canvas, cap);
    box.append(fig);
    return canvas;
  });
}

function highlight(canvases: HTMLCanvasElement[], src: TokenSource | null): void {
  for (const c of canvases) {
    const d = drawn.get(c);
    if (d) (c.getContext("2d") as CanvasRenderingContext2D).putImageData(d.base, 0, 0);
  }
  const c = src ? canvases[src.view] : undefined;
  const d = c && drawn.get(c);
  if (!src || !c || !d) return;
  const g = c.getContext("2d") as CanvasRenderingContext2D;
  g.strokeStyle = "#e00";
  g.lineWidth = 3;
  g.strokeRect(src.x * d.scale, src.y * d.scale, src.size * d.scale, src.size * d.scale);
}

function drawTokens(layout: TokenLayout | null, canvases: HTMLCanvasElement[], source: (j: number) => TokenSource | null): void {
  const box = $("tokens");
  box.replaceChildren();
  if (!layout) {
    box.textContent = "(this graph has no token layout: its outputs are not placed in an LLM's sequence)";
    return;
  }
  let imageToken = 0;
  for (const s of layout.segments) {
    if (s.kind === "text" || s.kind === "special") {
      const d = document.createElement("div");
      d.className = `tok ${s.kind}`;
      d.textContent = s.kind === "special" ? s.token : s.text.slice(0, 24);
      box.append(d);
      continue;
    }
    for (let j = 0; j < s.length; j++, imageToken++) {
      const d = document.createElement("div");
      const src = source(imageToken);
      d.className = src ? "tok" : "tok newline";
      d.title = `${s.kind} ${s.index + 1}, token ${j + 1} of ${s.length}${src ? "" : " (a learned vector: newline or separator)"}`;
      d.onmouseenter = () => {
        d.classList.add("hot");
        highlight(canvases, src);
      };
      d.onmouseleave = () => {
        d.classList.remove("hot");
        highlight(canvases, null);
      };
      box.append(d);
    }
  }
}

function drawTimings(names: string[], ms: number[], how: string): void {
  $("timing-note").textContent = how;
  const max = Math.max(...ms, 1e-3);
  $("timings").replaceChildren(
    ...names.map((n, i) => {
      const d = document.createElement("div");
      d.className = "bar";
      d.style.width = `${Math.max(2, (600 * ms[i]) / max)}px`;
      d.textContent = `${ms[i].toFixed(2)} ms  ${n}`;
      return d;
    }),
  );
}

async function run(name: string, image: Blob, imageName: string): Promise<void> {
  status(`loading ${name}…`);
  const m = await load(name);
  status(`preprocessing ${imageName} and running ${m.file.model} on ${m.ctx.adapterName}…`);
  const img = await decodeInBrowser((await device()).device, image, imageName);
  const { inputs, pixels, grids, tiles, items } = imageInputs(m.program, [img], [imageName]);
  const timestamps = m.ctx.features.includes("timestamp-query");
  const result = await m.executor.run(inputs, { profile: timestamps, kernelWallTimes: !timestamps });
  const prompt = ($("prompt") as HTMLInputElement).value || undefined;
  const layout = m.program.layout ? buildLayout(m.program.layout, items, prompt, null) : null;
  const { views, source } = viewsOf(m, pixels, grids, tiles, inputs);
  drawTokens(layout, drawViews(views), source);
  const kernelNames = m.plan.kernels.map((k) => k.name);
  const ms = result.kernelMs ?? [];
  drawTimings(
    kernelNames,
    ms,
    timestamps ? "(GPU time from timestamp queries)" : "(this adapter has no timestamp queries: wall time of each kernel submitted alone)",
  );
  status(
    `${m.file.model} on ${m.ctx.adapterName}: ${img.width}x${img.height} image, ${kernelNames.length} kernels, ${result.ms.toFixed(1)} ms${layout ? `, ${layout.image_rows} image tokens` : ""}`,
  );
  page.__tesserae = {
    ready: true,
    model: m.file.model,
    adapter: m.ctx.adapterName,
    outputs: Object.fromEntries([...result.outputs].map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data) }])),
    layout: layout ? { length: layout.length, image_rows: layout.image_rows, segments: layout.segments.length } : undefined,
    kernels: kernelNames.map((n, i) => ({ name: n, ms: ms[i] ?? 0 })),
  };
}

async function main(): Promise<void> {
  const demos = (await (await fetchOk("/artifacts/index.json")).json()) as { name: string; title: string }[];
  const select = $("graph") as HTMLSelectElement;
  for (const d of demos) select.append(new Option(d.title, d.name));
  const params = new URLSearchParams(location.search);
  select.value = params.get("graph") ?? demos[0].name;
  ($("prompt") as HTMLInputElement).value = params.get("prompt") ?? "";
  let current: { blob: Blob; name: string } = {
    blob: await (await fetchOk(params.get("image") ?? "/images/demo.png")).blob(),
    name: params.get("image") ?? "demo.png",
  };
  const go = (): void =>
    void run(select.value, current.blob, current.name).catch((e: unknown) => {
      status(`error: ${(e as Error).message}`, true);
      page.__tesserae = { ready: true, error: (e as Error).message };
    });
  const runFile = (f: File): void => {
    current = { blob: f, name: f.name };
    go();
  };
  select.onchange = go;
  ($("prompt") as HTMLInputElement).onchange = go;
  ($("file") as HTMLInputElement).onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) runFile(f);
  };
  const drop = $("drop");
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add("over");
  };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer?.files[0];
    if (f) runFile(f);
  };
  go();
}

void main().catch((e: unknown) => {
  status(`error: ${(e as Error).message}`, true);
  page.__tesserae = { ready: true, error: (e as Error).message };
});
