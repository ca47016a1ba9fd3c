// The package as a user gets it: built, packed, installed into an empty project from npm's cache, then
// used from that project with plain Node (no tsx, no loader flags) and from a page bundled with esbuild.
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImage } from "../../runtime/image/decode.ts";
import { maxAbsDiff, type HostTensor } from "../../runtime/tensor.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "tesserae-package-"));
const app = join(tmp, "app");
const VIT = join(ROOT, "test", "fixtures", "vit");
const REFERENCE = join(ROOT, "test", "fixtures", "reference", "vit.safetensors");
const CHROMIUM = process.env.CHROMIUM_PATH ?? execFileSync("sh", ["-c", "command -v chromium || true"], { encoding: "utf8" }).trim();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A command in the installed project, as a user types it. */
function inApp(command: string, args: string[]): Promise<Run> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(command, args, { cwd: app, maxBuffer: 64 * 2 ** 20, env: { ...process.env, NODE_OPTIONS: "" } }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const lines = (stdout: string): Map<string, HostTensor> =>
  new Map(
    stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { name: string; shape: number[]; data: number[] })
      .map((o) => [o.name, { shape: o.shape, data: Float32Array.from(o.data) }]),
  );

let tarball: { filename: string; integrity: string; size: number; unpackedSize: number; files: { path: string }[] };

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
}

/**
 * The empty project's package-lock.json: the tarball, and the checkout's own locked entries of every
 * package it depends on at run time. `npm ci --offline` then installs from npm's cache alone (the
 * tarballs `npm ci` fetched for the checkout), with the versions the checkout was tested with.
 */
function userLock(tgz: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    version: string;
    dependencies: Record<string, string>;
    bin: Record<string, string>;
    license: string;
  };
  const runtime = Object.entries(lock.packages).filter(([path, entry]) => path.startsWith("node_modules/") && !entry.dev);
  return {
    name: "tesserae-user",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "tesserae-user", dependencies: { tesserae: `file:${tgz}` } },
      "node_modules/tesserae": {
        version: pkg.version,
        resolved: `file:${tgz}`,
        integrity: tarball.integrity,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
      },
      ...Object.fromEntries(runtime),
    },
  };
}

beforeAll(() => {
  // dist/ is the global set-up's build (test/helpers/build.ts); `npm pack` alone would run it again (prepack).
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }),
  ) as (typeof tarball)[];
  tarball = packed[0];
  mkdirSync(app);
  const tgz = `../${tarball.filename}`;
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "tesserae-user", private: true, type: "module", dependencies: { tesserae: `file:${tgz}` } }, null, 2),
  );
  writeFileSync(join(app, "package-lock.json"), JSON.stringify(userLock(tgz), null, 2));
  execFileSync("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
}, 300_000);

describe("the npm package, installed into an empty project", () => {
  it("holds built JavaScript with declarations, the grammar, the prelude and the graphs; no TypeScript sources, tests or benchmarks' peers", () => {
    const paths = tarball.files.map((f) => f.path);
    for (const p of [
      "dist/api/index.js",
      "dist/api/index.d.ts",
      "dist/runtime/index.js",
      "dist/runtime/node.js",
      "dist/bin/main.js",
      "dist/dsl/grammar.peggy",
      "dist/dsl/grammar.cjs",
      "dist/dsl/prelude.tsr",
      "dist/graphs/qwen2-vl.tsr",
      "package.json",
      "README.md",
    ])
      expect(paths).toContain(p);
    expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
    expect(paths.some((p) => p.startsWith("test/") || p.includes("fixtures"))).toBe(false);
    const installed = JSON.parse(readFileSync(join(app, "node_modules", "tesserae", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    for (const dev of ["tsx", "vitest", "onnxruntime-node", "onnxruntime-web", "@huggingface/transformers", "playwright-core", "esbuild"])
      expect(Object.keys(installed.dependencies)).not.toContain(dev);
    expect(readFileSync(join(app, "node_modules", "tesserae", "dist", "api", "compile.js"), "utf8")).not.toMatch(/from "[^"]+\.ts"/);
  });

  it("README and docs/API.md show exactly the examples these tests run", () => {
    for (const example of ["node.mjs", "browser.mjs"]) {
      const code = readFileSync(join(ROOT, "docs", "examples", example), "utf8");
      for (const doc of ["README.md", "docs/API.md"])
        expect(readFileSync(join(ROOT, doc), "utf8"), `${doc} shows docs/examples/${example}`).toContain(`\`\`\`js\n${code}\`\`\``);
    }
  });

  it("npx tesserae check on a bundled graph, with no Dawn start-up notices", async () => {
    // graphs/vit.tsr as the README writes it: no such file here, so the bundled one.
    const cold = await inApp("npx", ["tesserae", "check", "graphs/vit.tsr"]);
    expect(cold.code, cold.stderr).toBe(0);
    expect(cold.stdout).toContain("ok: model vit");
    const warm = await inApp("npx", ["tesserae", "check", "qwen2-vl"]);
    expect(warm.code).toBe(0);
    expect(warm.stdout).toContain("ok: model qwen2_vl");
    const missing = await inApp("npx", ["tesserae", "check", "graphs/nope.tsr"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("tesserae: error: cannot read graph file graphs/nope.tsr: no such file");
    // stderr to a file, as a shell redirect gives it (a socket, what Node gives its children by default, cannot be reopened: see runtime/device.ts).
    const image = join(ROOT, "test", "fixtures", "images", "demo.png");
    const run = await inApp("sh", ["-c", `npx tesserae run vit --weights '${VIT}' --image '${image}' --runs 1 2> run.log`]);
    const log = readFileSync(join(app, "run.log"), "utf8");
    expect(run.code, log).toBe(0);
    expect(log).toContain("output     image_embeds       [1, 36]");
    expect(log).not.toContain("artificially reduced");
  });

  it("npx tesserae embed and search: decode threads, LanceDB and Parquet from the installed package", async () => {
    const images = join(ROOT, "test", "fixtures", "images");
    for (const format of ["lance", "parquet"]) {
      const db = join(app, `fixtures.${format}`);
      const embed = await inApp("npx", ["tesserae", "embed", "vit", "--weights", VIT, images, "--out", db, "--format", format]);
      expect(embed.code, embed.stderr).toBe(0);
      expect(embed.stdout).toContain("embedded 21 images into");
      expect(embed.stdout).toContain("5 unreadable, skipped (not stored):");
      const found = await inApp("npx", ["tesserae", "search", db, "--image", join(images, "wide.png"), "-k", "1", "--json"]);
      expect(found.code, found.stderr).toBe(0);
      expect(JSON.parse(found.stdout).hits[0].id).toBe("wide.png");
    }
  });

  it("a plain node script (docs/examples/node.mjs) compiles and runs the tiny ViT: outputs match PyTorch within 1e-4", async () => {
    copyFileSync(join(ROOT, "docs", "examples", "node.mjs"), join(app, "node.mjs"));
    const r = await inApp(process.execPath, ["node.mjs", "vit", VIT, REFERENCE]);
    expect(r.code, r.stderr).toBe(0);
    const got = lines(r.stdout);
    const ref = SafetensorsFile.open(REFERENCE);
    for (const name of ["last_hidden_state", "image_embeds"])
      expect(maxAbsDiff(got.get(name) as HostTensor, ref.read(name)), name).toBeLessThan(1e-4);
  });

  it("a compiled artifact imported from plain Node matches too, and its declarations type-check", async () => {
    const c = await inApp("npx", ["tesserae", "compile", "vit", "--weights", VIT, "--out", "vit"]);
    expect(c.code, c.stderr).toBe(0);
    writeFileSync(
      join(app, "artifact.mjs"),
      [
        'import { readTensors } from "tesserae/runtime";',
        'import { load, inputShapes } from "./vit/model.js";',
        "const model = await load({ weights: process.argv[2] });",
        'const out = await model.runTensors({ pixel_values: readTensors(process.argv[3]).get("pixel_values") });',
        "for (const [name, t] of Object.entries(out)) console.log(JSON.stringify({ name, shape: t.shape, data: Array.from(t.data) }));",
        'console.error("inputs", JSON.stringify(inputShapes));',
        "model.dispose();",
      ].join("\n"),
    );
    const r = await inApp(process.execPath, ["artifact.mjs", VIT, REFERENCE]);
    // A bare name is the bundled graph even beside a folder of that name.
    expect((await inApp("npx", ["tesserae", "check", "vit"])).stdout).toContain("ok: model vit");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('{"pixel_values":["B",3,36,36]}');
    const got = lines(r.stdout);
    const ref = SafetensorsFile.open(REFERENCE);
    for (const name of ["last_hidden_state", "image_embeds"])
      expect(maxAbsDiff(got.get(name) as HostTensor, ref.read(name)), name).toBeLessThan(1e-4);
    // A TypeScript user of the artifact: the typed inputs, a wrong input name rejected.
    writeFileSync(
      join(app, "use.ts"),
      [
        'import { load } from "./vit/model.js";',
        'const model = await load({ weights: "ckpt" });',
        "const out = await model.runTensors({ pixel_values: { shape: [1, 3, 36, 36], data: new Float32Array(3888) } });",
        "const rows: number[] = out.image_embeds.shape;",
        "// @ts-expect-error: not an input of the graph",
        "await model.runTensors({ pixels: { shape: [1], data: new Float32Array(1) } });",
        "export { rows };",
      ].join("\n"),
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          lib: ["ES2022", "DOM"],
          types: [],
          skipLibCheck: true,
        },
        files: ["use.ts"],
      }),
    );
    const tsc = await inApp(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"]);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
  });

  describe("the same artifact bundled with esbuild into a page (Chromium, WebGPU on SwiftShader)", () => {
    let server: Server;
    afterAll(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

    it("docs/examples/browser.mjs, and the PNG's bytes and URL decoded by the page, give Node's outputs within 1e-4", async () => {
      if (!CHROMIUM) throw new Error("no chromium on PATH: run `npm run setup` as root (installs Debian's chromium) or set CHROMIUM_PATH");
      copyFileSync(join(ROOT, "docs", "examples", "browser.mjs"), join(app, "browser.mjs"));
      writeFileSync(
        join(app, "page.mjs"),
        [
          'import { embed } from "./browser.mjs";',
          'import { load } from "./vit/model.js";',
          "const bytes = new Uint8ClampedArray(await (await fetch('image.rgba')).arrayBuffer());",
          "const [width, height] = (await (await fetch('image.size')).text()).split('x').map(Number);",
          "try {",
          "  const t = await embed(new ImageData(bytes, width, height));",
          // The encoded PNG too, decoded by the browser: its bytes, and its URL.
          "  const model = await load({ weights: 'vit/model.safetensors' });",
          "  const png = new Uint8Array(await (await fetch('demo.png')).arrayBuffer());",
          "  const fromBytes = (await model.run([png])).outputs.image_embeds;",
          "  const fromUrl = (await model.run(['demo.png'])).outputs.image_embeds;",
          "  window.__result = { shape: t.shape, data: Array.from(t.data), bytes: Array.from(fromBytes.data), url: Array.from(fromUrl.data) };",
          "} catch (e) { window.__result = { error: String(e && e.stack || e) }; }",
        ].join("\n"),
      );
      const bundle = await build({
        entryPoints: [join(app, "page.mjs")],
        absWorkingDir: app,
        bundle: true,
        format: "esm",
        platform: "browser",
        target: "es2022",
        write: false,
        logLevel: "silent",
      });
      // A bundler picks the runtime's browser entry: nothing of Node in the page.
      const js = bundle.outputFiles[0].text;
      expect(js).not.toMatch(/node:fs|require\("fs"\)|dawn\.node/);
      const img = await readImage(join(ROOT, "test", "fixtures", "images", "demo.png"));
      const rgba = new Uint8Array(img.width * img.height * 4).map((_, i) => (i % 4 === 3 ? 255 : img.data[(i >> 2) * 3 + (i % 4)]));
      const files: Record<string, Buffer | string> = {
        "/": "<!doctype html><meta charset=utf-8><script type=module src=page.js></script>",
        "/page.js": js,
        "/image.rgba": Buffer.from(rgba),
        "/image.size": `${img.width}x${img.height}`,
        "/demo.png": readFileSync(join(ROOT, "test", "fixtures", "images", "demo.png")),
        "/vit/model.safetensors": readFileSync(join(VIT, "model.safetensors")),
      };
      server = createServer((req, res) => {
        const body = files[new URL(req.url ?? "/", "http://x").pathname];
        if (body === undefined) return void res.writeHead(404).end();
        res
          .writeHead(200, {
            "Content-Type":
              { ".js": "text/javascript" }[extname(req.url ?? "")] ?? (req.url === "/" ? "text/html" : "application/octet-stream"),
          })
          .end(body);
      });
      await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan", "--no-sandbox"],
      });
      type PageResult = { shape?: number[]; data?: number[]; bytes?: number[]; url?: number[]; error?: string };
      let result: PageResult;
      try {
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
        await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 90_000 });
        result = await page.evaluate(() => (window as unknown as { __result: PageResult }).__result);
      } finally {
        await browser.close();
      }
      expect(result.error).toBeUndefined();
      // Node: the same artifact and the same RGBA pixels through the installed package.
      writeFileSync(
        join(app, "rgba.mjs"),
        [
          'import { readFileSync } from "node:fs";',
          'import { load } from "./vit/model.js";',
          "const [w, h] = process.argv[3].split('x').map(Number);",
          "const model = await load({ weights: process.argv[2] });",
          "const { outputs } = await model.run([{ width: w, height: h, data: new Uint8Array(readFileSync(process.argv[4])) }]);",
          "console.log(JSON.stringify({ name: 'image_embeds', shape: outputs.image_embeds.shape, data: Array.from(outputs.image_embeds.data) }));",
        ].join("\n"),
      );
      writeFileSync(join(app, "image.rgba"), rgba);
      const node = await inApp(process.execPath, ["rgba.mjs", VIT, `${img.width}x${img.height}`, "image.rgba"]);
      expect(node.code, node.stderr).toBe(0);
      const want = lines(node.stdout).get("image_embeds") as HostTensor;
      expect(result.shape).toEqual(want.shape);
      expect(maxAbsDiff({ shape: want.shape, data: Float32Array.from(result.data ?? []) }, want)).toBeLessThan(1e-4);
      // The PNG decoded by the browser (bytes and URL) against Node's decoder reading the same file.
      for (const got of [result.bytes, result.url])
        expect(maxAbsDiff({ shape: want.shape, data: Float32Array.from(got ?? []) }, want)).toBeLessThan(1e-4);
    }, 180_000);
  });
});

afterAll(() => {
  console.log(
    `tarball ${tarball?.filename}: ${((tarball?.size ?? 0) / 1024).toFixed(0)} KiB packed, ${((tarball?.unpackedSize ?? 0) / 1024).toFixed(0)} KiB unpacked, ${tarball?.files.length} files`,
  );
});
