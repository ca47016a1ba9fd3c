import type { Server } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reliable } from "../helpers/reliability.ts";
import { startWebServer } from "../../web/server.ts";

let server: Server;
let port: number;

beforeAll(async () => {
  const started = await startWebServer(0);
  server = started.server;
  port = Number(new URL(started.url).port);
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

/** mulberry32: the same malformed requests on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Probe {
  kind: string;
  bytes: Buffer;
  /** Close the connection after this many bytes of the request (or of the answer, with `readThenClose`). */
  closeAfter?: number;
  readThenClose?: boolean;
}

const get = (path: string, headers = ""): Buffer =>
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n`, "latin1");

function probes(count: number): Probe[] {
  const r = random(20261201);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const hex = (): string =>
    Math.floor(r() * 256)
      .toString(16)
      .toUpperCase()
      .padStart(2, "0");
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const kinds: (() => Probe)[] = [
    // Percent escapes cut short or not UTF-8: /%E0%A4%A, /%C3, /%ZZ.
    () => ({
      kind: "escape",
      bytes: get(
        `/${Array.from({ length: 1 + Math.floor(r() * 4) }, hex)
          .map((h) => `%${h}`)
          .join("")}%${hex().slice(0, 1)}`,
      ),
    }),
    () => ({
      kind: "escape",
      bytes: get(`/images/%${pick(["E0%A4%A", "C3", "ZZ", "%", "F0%9F%98", "FF%FE"])}${pick(["", ".png", "/x"])}`),
    }),
    // Paths: traversal, doubled slashes, long, unicode, unknown files.
    () => ({
      kind: "path",
      bytes: get(
        pick([
          "/../../etc/passwd",
          "//",
          "/images/../../package.json",
          "/artifacts/x/model.safetensors",
          "/images/none.png",
          "/%2e%2e/%2e%2e/README.md",
          "/images/..png",
          "/\u00e9",
          `/${"a".repeat(1 + Math.floor(r() * 4000))}`,
        ]),
      ),
    }),
    // Ranges on a real file: reversed, past the end, not numbers, several.
    () => ({
      kind: "range",
      bytes: get(
        "/images/demo.png",
        `Range: ${pick(["bytes=5-2", "bytes=99999999-", "bytes=abc", "bytes=-", "bytes=0-0,5-9", "bits=0-1", `bytes=${Math.floor(r() * 5000)}-${Math.floor(r() * 5000)}`, "bytes=1e21-"])}\r\n`,
      ),
    }),
    // Headers past Node's 16 KiB limit.
    () => ({ kind: "header", bytes: get("/", `X-Big: ${"x".repeat(16_000 + Math.floor(r() * 20_000))}\r\n`) }),
    // Garbage instead of a request line, and methods the server does not take.
    () => ({ kind: "garbage", bytes: Buffer.concat([bytes(1 + Math.floor(r() * 200)), Buffer.from("\r\n\r\n")]) }),
    () => ({
      kind: "method",
      bytes: Buffer.from(
        `${pick(["POST", "PUT", "DELETE", "BREW", "OPTIONS"])} / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
      ),
    }),
    // Connections closed mid-request, and mid-answer of a large file.
    () => {
      const b = get("/images/demo.png");
      return { kind: "closed", bytes: b, closeAfter: Math.floor(r() * b.length) };
    },
    () => ({ kind: "closed", bytes: get("/app.js"), closeAfter: 1 + Math.floor(r() * 2000), readThenClose: true }),
  ];
  return Array.from({ length: count }, () => pick(kinds)());
}

/** Sends one probe on a fresh connection: the status line's code, or null when the probe (or Node) closed it first. */
function send(p: Probe): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s to a '${p.kind}' probe`));
    }, 10_000);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      received += c.length;
      if (p.readThenClose && p.closeAfter !== undefined && received >= p.closeAfter) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const head = /^HTTP\/1\.[01] (\d{3}) /.exec(Buffer.concat(chunks).subarray(0, 64).toString("latin1"));
      resolve(head ? Number(head[1]) : null);
    });
    if (p.closeAfter !== undefined && !p.readThenClose) socket.end(p.bytes.subarray(0, p.closeAfter), () => socket.destroy());
    else socket.write(p.bytes);
  });
}

async function fetchStatus(path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

describe("the web demo's server under malformed requests", () => {
  it("answers /%E0%A4%A with 400 and keeps serving", async () => {
    expect(await send({ kind: "escape", bytes: get("/%E0%A4%A") })).toBe(400);
    expect((await fetchStatus("/")).status).toBe(200);
  });

  it("survives 2000 seeded malformed requests, answering each it can parse with a status, then serves the page", async () => {
    const all = probes(2000);
    const statuses = new Map<string, number>();
    const started = performance.now();
    for (let i = 0; i < all.length; i += 32) {
      const codes = await Promise.all(all.slice(i, i + 32).map(send));
      codes.forEach((code, j) => {
        const p = all[i + j];
        // Only a probe that closed its own connection early may go unanswered.
        if (p.closeAfter === undefined) expect(code, `${p.kind}: ${p.bytes.subarray(0, 80).toString("latin1")}`).not.toBeNull();
        if (code !== null) expect(code).toBeLessThan(500);
        const key = `${p.kind} ${code ?? "closed"}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      });
    }
    const ms = performance.now() - started;
    const page = await fetchStatus("/");
    expect(page.status).toBe(200);
    expect(page.text).toContain("<html");
    expect((await fetchStatus("/images/demo.png")).status).toBe(200);
    // Each kind of probe was sent and answered as intended.
    const seen = [...statuses.keys()].map((k) => k.split(" ")[0]);
    expect(new Set(seen)).toEqual(new Set(["escape", "path", "range", "header", "garbage", "method", "closed"]));
    expect(statuses.get("header 431")).toBeGreaterThan(0);
    expect([...statuses].filter(([k]) => k.startsWith("escape")).every(([k]) => k.endsWith(" 400"))).toBe(true);
    reliable({
      area: "servers",
      case: "the web demo's server (npm run web): seeded malformed requests on a loopback port (bad percent escapes, traversal and long paths, bad ranges, headers past 16 KiB, garbage request lines, other methods, connections closed mid-request and mid-answer)",
      tried: all.length,
      outcome: `every request Node could parse answered below 500 (${(ms / 1000).toFixed(1)} s); the page served afterwards: ${[...statuses]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(", ")}`,
    });
  });
});

describe("the search page's API", () => {
  it("text and like-this queries as JSON, a row's image, and clear errors; no file outside the database", async () => {
    expect((await fetchStatus("/search")).text).toContain('<script type="module" src="/search.js">');
    const text = await fetchStatus("/api/search?text=a%20photo&k=5");
    expect(text.status).toBe(200);
    const answer = JSON.parse(text.text) as { hits: { id: string; score: number }[]; model: string };
    expect(answer.model).toBe("clip_score");
    expect(answer.hits.length).toBe(5);
    const like = JSON.parse((await fetchStatus(`/api/search?like=${encodeURIComponent(answer.hits[2].id)}&k=3`)).text);
    expect(like.hits[0].id).toBe(answer.hits[2].id);
    const image = await fetch(`http://127.0.0.1:${port}/api/image?id=demo.png`);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
    expect((await fetchStatus("/api/image?id=../../../etc/passwd")).status).toBe(404);
    const missing = await fetchStatus("/api/search?like=no-such-row");
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text).error).toContain("has no row 'no-such-row'");
    expect(JSON.parse((await fetchStatus("/api/search?text=x&k=0")).text).error).toContain("k must be a positive integer");
  });
});
