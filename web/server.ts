import { createReadStream, existsSync, readFileSync, type ReadStream, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildArtifact } from "../compiler/emit/artifact.ts";
import { compileFile } from "../compiler/frontend.ts";
import { stringifyPlanFile } from "../core/serialize.ts";
import { Checkpoint } from "../runtime/weights/checkpoint.ts";
import { TesseraeError } from "../core/errors.ts";
import { DEMOS } from "./demos.ts";
import { SearchService } from "./search-service.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".json": "application/json",
  ".wgsl": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

interface Served {
  body: Buffer | string;
  type: string;
}

/** Everything the page fetches except weights and images: the bundle, the page, each demo's plan and kernels. */
async function prepare(log: (s: string) => void): Promise<Map<string, Served>> {
  const files = new Map<string, Served>();
  for (const [entry, served] of [
    ["app.ts", "/app.js"],
    ["search-page.ts", "/search.js"],
  ]) {
    const bundle = await build({
      entryPoints: [join(ROOT, "web", entry)],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    files.set(served, { body: Buffer.from(bundle.outputFiles[0].contents), type: TYPES[".js"] });
  }
  files.set("/", { body: readFileSync(join(ROOT, "web", "index.html")), type: TYPES[".html"] });
  files.set("/search", { body: readFileSync(join(ROOT, "web", "search.html")), type: TYPES[".html"] });
  for (const demo of DEMOS) {
    const checkpoint = Checkpoint.open(join(ROOT, demo.weights));
    const program = compileFile(join(ROOT, demo.graph), {
      checkpointConfig: checkpoint.config,
      preprocessorConfig: checkpoint.preprocessorConfig,
      hasWeight: (n) => checkpoint.has(n),
    });
    const { file, files: kernels } = buildArtifact(
      program,
      demo.graph,
      { fuse: true, storage: "f32" },
      { fuse: true, storage: "f32", weights: demo.weights },
    );
    files.set(`/artifacts/${demo.name}/plan.json`, { body: stringifyPlanFile(file), type: TYPES[".json"] });
    for (const [name, text] of kernels) files.set(`/artifacts/${demo.name}/${name}`, { body: text, type: TYPES[".wgsl"] });
    log(`  ${demo.name}: ${demo.graph} with ${demo.weights}, ${file.plan.kernels.length} kernels`);
  }
  files.set("/artifacts/index.json", { body: JSON.stringify(DEMOS.map(({ name, title }) => ({ name, title }))), type: TYPES[".json"] });
  return files;
}

/** Static files with byte ranges (weights may be fetched in parts). */
function sendFile(req: IncomingMessage, res: ServerResponse, path: string): void {
  const size = statSync(path).size;
  const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start > end) return void res.writeHead(416, { "Content-Range": `bytes */${size}` }).end();
    res.writeHead(206, {
      "Content-Type": type,
      "Content-Range": `bytes ${start}-${end}/${size}`,
      "Content-Length": end - start + 1,
      "Accept-Ranges": "bytes",
    });
    stream(createReadStream(path, { start, end }), res);
    return;
  }
  res.writeHead(200, { "Content-Type": type, "Content-Length": size, "Accept-Ranges": "bytes" });
  stream(createReadStream(path), res);
}

/** A file into a response; a read error (or a client gone) ends that response only, never the server. */
function stream(file: ReadStream, res: ServerResponse): void {
  file.on("error", () => res.destroy());
  res.on("close", () => file.destroy());
  file.pipe(res);
}

/** The request's path, or null when its percent escapes are malformed (`/%E0%A4%A`). */
function requestPath(url: string | undefined): string | null {
  try {
    return decodeURIComponent(new URL(url ?? "/", "http://localhost").pathname);
  } catch {
    return null;
  }
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" }).end(`${text}\n`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": TYPES[".json"] }).end(JSON.stringify(body));
}

/** The search page's API: `/api/search?text=...|like=ID&k=N` as JSON, `/api/image?id=ID` a row's image. */
async function searchApi(service: SearchService, path: string, params: URLSearchParams, res: ServerResponse): Promise<void> {
  try {
    if (path === "/api/image") {
      const bytes = await service.image(params.get("id") ?? "");
      if (!bytes) return answer(res, 404, "no such row");
      const png = bytes[0] === 0x89;
      return void res.writeHead(200, { "Content-Type": png ? TYPES[".png"] : TYPES[".jpg"] }).end(Buffer.from(bytes));
    }
    const k = Number(params.get("k") ?? 24);
    const text = params.get("text") ?? undefined;
    const like = params.get("like") ?? undefined;
    const result = await service.query({ text, like, k });
    json(res, 200, { hits: result.hits, model: result.meta.model, db: result.db, query: result.query });
  } catch (e) {
    // A bad query (no such row, k out of range) is the caller's: its message, not a stack.
    const message = e instanceof Error ? e.message : String(e);
    json(res, e instanceof TesseraeError ? 400 : 500, { error: message });
  }
}

function route(files: ReadonlyMap<string, Served>, service: SearchService, req: IncomingMessage, res: ServerResponse): void {
  const path = requestPath(req.url);
  if (path === null) return void answer(res, 400, "bad request: malformed percent escape in the URL");
  if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405, { Allow: "GET, HEAD" }).end();
  if (path === "/api/search" || path === "/api/image")
    return void searchApi(service, path, new URL(req.url ?? "/", "http://localhost").searchParams, res);
  const served = files.get(path);
  if (served) return void res.writeHead(200, { "Content-Type": served.type }).end(served.body);
  const weights = /^\/artifacts\/([\w.-]+)\/model\.safetensors$/.exec(path);
  const demo = weights && DEMOS.find((d) => d.name === weights[1]);
  if (demo) return void sendFile(req, res, join(ROOT, demo.weights, "model.safetensors"));
  const image = /^\/images\/([\w.-]+\.(png|jpg))$/.exec(path);
  if (image && existsSync(join(ROOT, "test", "fixtures", "images", image[1])))
    return void sendFile(req, res, join(ROOT, "test", "fixtures", "images", image[1]));
  answer(res, 404, `not found: ${JSON.stringify(path)}`);
}

/**
 * Serves the demo page on localhost; `port` 0 picks a free one. `db`: the database the search page
 * queries (default: the fixture images, embedded with the tiny CLIP when the page is first used).
 */
export async function startWebServer(
  port: number,
  log: (s: string) => void = () => {},
  db: string | undefined = process.env.TESSERAE_DB,
): Promise<{ server: Server; url: string }> {
  const files = await prepare(log);
  const service = new SearchService(ROOT, db);
  const server = createServer((req, res) => {
    try {
      route(files, service, req, res);
    } catch (e) {
      // A fault in one request (a file gone from under a demo) answers that request; the server keeps serving.
      if (!res.headersSent) answer(res, 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      else res.destroy();
    }
  });
  // Requests Node cannot parse (a broken request line, headers past 16 KiB) get its own 400 or 431 and a closed socket.
  await new Promise<void>((ok) => server.listen(port, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  process.stderr.write("tesserae web: compiling the demo graphs\n");
  const { url } = await startWebServer(port, (s) => process.stderr.write(`${s}\n`));
  process.stderr.write(`tesserae web: open ${url} in a browser with WebGPU (Chromium: --enable-unsafe-webgpu on Linux); Ctrl-C stops\n`);
  process.stderr.write(
    `tesserae web: ${url}search searches ${process.env.TESSERAE_DB ?? "the fixture images (TESSERAE_DB=DIR: a database of yours)"}\n`,
  );
}
