import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, getGpu, ImageError, InputError, load, type Model } from "../../api/index.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { reliable } from "../helpers/reliability.ts";

// The collector on demand, as node --expose-gc gives it, without flags for the whole test run.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

// Requests in flight at once on one device, through the library API: each must get exactly what it
// would have got alone (runs share the device's queue, error scopes and each plan's buffers).

const ref = SafetensorsFile.open("test/fixtures/reference/vit.safetensors");
const clipRef = SafetensorsFile.open("test/fixtures/reference/clip.safetensors");

/** Batches of 1, 2 and 3 images made from the reference's two, so buffers of different sizes are in play. */
function requests(pixels: HostTensor): HostTensor[] {
  const one = pixels.data.length / pixels.shape[0];
  const rows = (idx: number[]): HostTensor => {
    const data = new Float32Array(idx.length * one);
    idx.forEach((r, i) => data.set(pixels.data.subarray(r * one, (r + 1) * one), i * one));
    return { shape: [idx.length, ...pixels.shape.slice(1)], data };
  };
  return [rows([0]), rows([1, 0]), rows([1, 1, 0]), rows([1])];
}

const same = (a: HostTensor, b: HostTensor): boolean =>
  a.shape.join() === b.shape.join() && a.data.every((v, i) => Object.is(v, b.data[i]));

let vit: Model;
let clip: Model;
let vitInputs: HostTensor[];
let clipInputs: HostTensor[];
let vitAlone: Record<string, HostTensor>[];
let clipAlone: Record<string, HostTensor>[];

beforeAll(async () => {
  const device = (await getGpu()).device;
  vit = await load(compile("vit", { weights: "test/fixtures/vit" }), { device });
  clip = await load(compile("clip", { weights: "test/fixtures/clip" }), { device });
  vitInputs = requests(ref.read("pixel_values"));
  clipInputs = requests(clipRef.read("pixel_values"));
  vitAlone = [];
  for (const p of vitInputs) vitAlone.push((await vit.run({ pixel_values: p })).outputs);
  clipAlone = [];
  for (const p of clipInputs) clipAlone.push((await clip.run({ pixel_values: p })).outputs);
});

afterAll(() => {
  vit.dispose();
  clip.dispose();
});

describe("concurrent requests through the library API", () => {
  it.each([1, 4, 16, 64])(
    "%i runs in flight on one model and on two models sharing its device give the one-at-a-time results",
    async (n) => {
      const runs = Array.from({ length: n }, (_, i) => {
        const k = i % vitInputs.length;
        // Every other request reports progress: its kernels go to the queue in several submissions.
        const progress = i % 2 === 1 ? { onProgress: () => {} } : {};
        return i % 3 === 2
          ? clip.run({ pixel_values: clipInputs[k] }, progress).then((r) => ({ r, want: clipAlone[k] }))
          : vit.run({ pixel_values: vitInputs[k] }, progress).then((r) => ({ r, want: vitAlone[k] }));
      });
      const done = await Promise.all(runs);
      for (const { r, want } of done) for (const [name, t] of Object.entries(want)) expect(same(r.outputs[name], t), name).toBe(true);
      reliable({
        area: "load",
        case: `${n} concurrent run() calls on two models (ViT, CLIP) sharing one device, batches of 1 to 3, half with progress`,
        tried: n,
        outcome: "every result bit-identical to the same request run alone",
      });
    },
  );

  it("a request that fails fails alone; the others complete", async () => {
    const runs = [
      vit.run({ pixel_values: vitInputs[0] }),
      vit.run(["test/fixtures/images/not-an-image.png"]),
      vit.run({ pixel_values: { shape: [1, 3, 5, 5], data: new Float32Array(75) } }),
      clip.run({ pixel_values: clipInputs[1] }),
      vit.run({ pixel_values: vitInputs[2] }),
    ];
    const settled = await Promise.allSettled(runs);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(ImageError);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(InputError);
    const value = (i: number) => (settled[i] as PromiseFulfilledResult<Awaited<(typeof runs)[number]>>).value.outputs;
    expect(same(value(0).image_embeds, vitAlone[0].image_embeds)).toBe(true);
    expect(same(value(3).image_embeds, clipAlone[1].image_embeds)).toBe(true);
    expect(same(value(4).image_embeds, vitAlone[2].image_embeds)).toBe(true);
    reliable({
      area: "load",
      case: "a bad image and a wrongly shaped tensor among concurrent requests",
      tried: 5,
      outcome: "the two fail with ImageError / InputError; the three others return their one-at-a-time results",
    });
  });

  it("1000 requests, 16 at a time, after the first 1000 leave memory where it was", async () => {
    const wave = async (count: number) => {
      for (let i = 0; i < count; i += 16)
        await Promise.all(Array.from({ length: 16 }, (_, j) => vit.run({ pixel_values: vitInputs[(i + j) % vitInputs.length] })));
    };
    // Resident memory rises over the first thousand or so requests (malloc's arenas, Dawn's allocations for
    // the three batch sizes) and is flat after that: measured from the 100th request, the same runs grew it
    // by 40 to 77 MB; from the 1000th, by -5 to +7 MB.
    await wave(1008);
    // Collected first: the heap then holds what the runs keep, not garbage a collection has not reached yet.
    collectGarbage();
    const before = process.memoryUsage();
    await wave(1008);
    collectGarbage();
    const after = process.memoryUsage();
    const grew = (after.rss - before.rss) / 2 ** 20;
    const heapGrew = (after.heapUsed - before.heapUsed) / 2 ** 20;
    // A leak of the smallest thing a run makes (its ~6 KB of outputs, a readback buffer) would pass 6 MB here,
    // and one of 24 KB of native memory a run (a small GPU buffer) would pass 24 MB.
    expect(heapGrew).toBeLessThan(6);
    expect(grew).toBeLessThan(24);
    reliable({
      area: "load",
      case: "2000 requests on one model, 16 in flight",
      tried: 2016,
      outcome: `resident memory ${grew >= 0 ? "+" : ""}${grew.toFixed(1)} MB, JS heap ${heapGrew >= 0 ? "+" : ""}${heapGrew.toFixed(1)} MB over the second 1000`,
    });
  });
});

describe("several processes on one machine", () => {
  it("four CLI processes running at once write the same outputs as one run in this process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tesserae-procs-"));
    const pixels = "test/fixtures/reference/vit.safetensors";
    const outs = [0, 1, 2, 3].map((i) => join(dir, `out-${i}.safetensors`));
    const codes = await Promise.all(
      outs.map(
        (out) =>
          new Promise<number>((resolve) => {
            const child = spawn(
              process.execPath,
              [
                "dist/bin/main.js",
                "run",
                "graphs/vit.tsr",
                "--weights",
                "test/fixtures/vit",
                "--pixel-values",
                pixels,
                "--out",
                out,
                "--runs",
                "1",
              ],
              {
                stdio: "ignore",
              },
            );
            child.on("close", (code) => resolve(code ?? -1));
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const here = (await vit.run({ pixel_values: ref.read("pixel_values") })).outputs;
    for (const out of outs) {
      const f = SafetensorsFile.open(out);
      expect(same(f.read("image_embeds"), here.image_embeds)).toBe(true);
      expect(same(f.read("last_hidden_state"), here.last_hidden_state)).toBe(true);
      f.close();
    }
    expect(readFileSync(outs[0]).equals(readFileSync(outs[3]))).toBe(true);
    reliable({
      area: "load",
      case: "four processes running one model at once (CLI)",
      tried: 4,
      outcome: "identical files, equal to the in-process run",
    });
  });
});
