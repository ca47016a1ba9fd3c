import { execFileSync } from "node:child_process";
import type { Server } from "node:http";
import { PNG } from "pngjs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileProgram } from "../../compiler/compile.ts";
import { compileFile } from "../../compiler/frontend.ts";
import { getGpu } from "../../runtime/device.ts";
import { Executor } from "../../runtime/executor/executor.ts";
import { readImage } from "../../runtime/image/decode.ts";
import { imageInputs } from "../../runtime/inputs.ts";
import { maxAbsDiff } from "../../runtime/tensor.ts";
import { Checkpoint } from "../../runtime/weights/checkpoint.ts";
import { DEMOS } from "../../web/demos.ts";
import { startWebServer } from "../../web/server.ts";

// Debian's chromium (scripts/setup-system.sh installs it); WebGPU there runs on SwiftShader, f32.
const CHROMIUM = process.env.CHROMIUM_PATH ?? execFileSync("sh", ["-c", "command -v chromium || true"], { encoding: "utf8" }).trim();

interface PageResult {
  ready: boolean;
  error?: string;
  adapter?: string;
  outputs?: Record<string, { shape: number[]; data: number[] }>;
  layout?: { image_rows: number };
  kernels?: { name: string; ms: number }[];
}

let server: Server;
let url: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error("no chromium on PATH: run `npm run setup` as root (installs Debian's chromium) or set CHROMIUM_PATH");
  ({ server, url } = await startWebServer(0));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan", "--no-sandbox"],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => server?.close(done));
});

async function open(graph: string, image: string): Promise<PageResult> {
  await page.goto(`${url}?graph=${graph}&image=/images/${image}&prompt=${encodeURIComponent("Describe <image>")}`);
  await page.waitForFunction(() => (window as unknown as { __tesserae?: { ready: boolean } }).__tesserae?.ready === true, null, {
    timeout: 90_000,
  });
  return page.evaluate(() => (window as unknown as { __tesserae: PageResult }).__tesserae);
}

describe("the demo page in headless Chromium (WebGPU on SwiftShader)", () => {
  it.each([
    ["qwen2-vl", "odd-rgba.png"],
    ["deepseek-vl2", "tall-gray.png"],
    ["vit", "small.jpg"],
  ])(
    "%s on %s: the page's outputs match the Node runtime's on Dawn",
    async (graph, image) => {
      const result = await open(graph, image);
      expect(result.error).toBeUndefined();
      const demo = DEMOS.find((d) => d.name === graph);
      if (!demo) throw new Error(`no demo ${graph}`);
      const checkpoint = Checkpoint.open(demo.weights);
      const program = compileFile(demo.graph, {
        checkpointConfig: checkpoint.config,
        preprocessorConfig: checkpoint.preprocessorConfig,
        hasWeight: (n) => checkpoint.has(n),
      });
      const ctx = await getGpu();
      const executor = await Executor.load(
        ctx,
        compileProgram(program, { fuse: true, storage: "f32" }),
        checkpoint.loadFor(program.graph, program),
      );
      const { inputs } = imageInputs(program, [await readImage(`test/fixtures/images/${image}`)], [image]);
      const node = (await executor.run(inputs)).outputs;
      executor.dispose();
      for (const [name, t] of node) {
        const got = result.outputs?.[name];
        expect(got?.shape, name).toEqual(t.shape);
        expect(
          maxAbsDiff({ shape: t.shape, data: Float32Array.from(got?.data ?? []) }, t),
          `${name}: browser (${result.adapter}) vs Node (${ctx.adapterName})`,
        ).toBeLessThan(1e-4);
      }
      expect(result.kernels?.length).toBeGreaterThan(0);
      if (graph !== "vit") expect(result.layout?.image_rows).toBe(node.get("image_embeds")?.shape[0]);
    },
    120_000,
  );

  it("draws the image, the token strip and the kernel bars: a screenshot that is not blank", async () => {
    // A small image (10 image tokens): on demo.png (640x480, hundreds of tokens) SwiftShader took 18 s of this test against 6 s,
    // and the page draws the same either way.
    const result = await open("qwen2-vl", "wide.png");
    expect(result.error).toBeUndefined();
    expect(await page.locator("canvas.view").count()).toBe(1);
    // Every image token, and the text and special tokens around them.
    expect(await page.locator("#tokens .tok").count()).toBeGreaterThan(result.layout?.image_rows ?? Number.POSITIVE_INFINITY);
    expect(await page.locator("#timings .bar").count()).toBeGreaterThan(5);
    const png = PNG.sync.read(await page.screenshot({ fullPage: true }));
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4 * 97) colours.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
    expect(colours.size).toBeGreaterThan(50);
  }, 120_000);

  it("the search page: the fixture images' hits for a text as a grid of thumbnails; a click searches for pictures like it", async () => {
    type SearchState = { done: number; hits?: { id: string; score: number }[]; error?: string };
    const state = (): Promise<SearchState> => page.evaluate(() => (window as unknown as { __search: SearchState }).__search);
    await page.goto(`${url}search`);
    await page.waitForFunction(() => (window as unknown as { __search?: { done: number } }).__search?.done === 1, null, {
      timeout: 90_000,
    });
    const first = await state();
    expect(first.error).toBeUndefined();
    // The readable fixture images (the corrupt ones are not in the database).
    expect(first.hits?.length).toBe(21);
    const scores = first.hits?.map((h) => h.score) ?? [];
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    await page.waitForFunction(() => Array.from(document.querySelectorAll("#hits img")).every((i) => (i as HTMLImageElement).complete));
    const widths = await page.locator("#hits img").evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
    expect(widths.length).toBe(21);
    expect(widths.every((w) => w > 0)).toBe(true);
    const picked = first.hits?.[5].id as string;
    await page.locator("#hits figure").nth(5).click();
    await page.waitForFunction(() => (window as unknown as { __search: { done: number } }).__search.done === 2);
    const like = await state();
    expect(like.hits?.[0].id).toBe(picked);
    expect(like.hits?.[0].score).toBeCloseTo(1, 5);
  }, 120_000);
});
