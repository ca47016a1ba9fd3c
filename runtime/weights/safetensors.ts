import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import type { HostTensor } from "../tensor.ts";

/** A checkpoint file that is not a valid safetensors file, or lacks what was asked; the message names file and tensor. */
import { WeightsError } from "../../core/errors.ts";

export type SafeDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";
const ITEM_SIZE: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_HEADER = 100 * 2 ** 20;

export interface TensorInfo {
  dtype: SafeDType;
  shape: number[];
  /** Byte range in the file. */
  begin: number;
  end: number;
}

/** An open safetensors file: the header is parsed and checked up front; tensor data is read on demand. */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  readonly metadata: Record<string, string> = {};

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new WeightsError(
        `cannot open ${path}: ${e instanceof Error && "code" in e && e.code === "ENOENT" ? "no such file" : String(e)}`,
      );
    }
    const f = new SafetensorsFile(path, fd);
    try {
      f.parseHeader();
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return f;
  }

  private fail(msg: string): never {
    throw new WeightsError(`${this.path}: ${msg}`);
  }

  private parseHeader(): void {
    const size = fstatSync(this.fd).size;
    if (size < 8) this.fail(`not a safetensors file (${size} bytes, too short for a header)`);
    const lenBuf = Buffer.alloc(8);
    readSync(this.fd, lenBuf, 0, 8, 0);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len > MAX_HEADER || 8 + len > size) this.fail(`not a safetensors file (header length ${len} does not fit in ${size} bytes)`);
    const headerBuf = Buffer.alloc(len);
    readSync(this.fd, headerBuf, 0, len, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString("utf8"));
    } catch (e) {
      this.fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) this.fail("header is not a JSON object");
    const dataStart = 8 + len;
    const dataLen = size - dataStart;
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === "__metadata__") {
        if (typeof raw === "object" && raw !== null) Object.assign(this.metadata, raw);
        continue;
      }
      const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const where = `tensor '${name}'`;
      if (typeof entry !== "object" || entry === null) this.fail(`${where}: entry is not an object`);
      if (typeof entry.dtype !== "string" || !(entry.dtype in ITEM_SIZE))
        this.fail(`${where}: unsupported dtype ${JSON.stringify(entry.dtype)}`);
      const dtype = entry.dtype as SafeDType;
      if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isInteger(d) && d >= 0))
        this.fail(`${where}: shape ${JSON.stringify(entry.shape)} is not a list of non-negative integers`);
      const shape = entry.shape as number[];
      const offs = entry.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0))
        this.fail(`${where}: data_offsets ${JSON.stringify(offs)} are not two non-negative integers`);
      const [b, e] = offs as [number, number];
      const expected = shape.reduce((a, d) => a * d, 1) * ITEM_SIZE[dtype];
      if (e < b || e - b !== expected)
        this.fail(`${where}: data_offsets [${b}, ${e}] hold ${e - b} bytes, but ${dtype}[${shape.join(", ")}] needs ${expected}`);
      if (e > dataLen) this.fail(`${where}: data_offsets [${b}, ${e}] run past the end of the file (data section is ${dataLen} bytes)`);
      this.tensors.set(name, { dtype, shape, begin: dataStart + b, end: dataStart + e });
    }
    // Tensors must not share bytes (the format also forbids holes; those are harmless, so allowed).
    const spans = [...this.tensors].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i][1].begin < spans[i - 1][1].end)
        this.fail(`tensors '${spans[i - 1][0]}' and '${spans[i][0]}' overlap in the data section`);
    }
  }

  /** Reads one tensor as f32 (F32, F16 and BF16 are converted; other dtypes are refused). */
  read(name: string): HostTensor {
    const info = this.tensors.get(name);
    if (!info) this.fail(`no tensor '${name}'`);
    const bytes = Buffer.alloc(info.end - info.begin);
    readSync(this.fd, bytes, 0, bytes.length, info.begin);
    return {
      shape: info.shape,
      data: toFloat32(bytes, info.dtype, () =>
        this.fail(`tensor '${name}' has dtype ${info.dtype}; only F32, F16 and BF16 weights can be used`),
      ),
    };
  }

  /** Reads a small integer tensor (I64, I32 or a float type holding integers), e.g. image_grid_thw. */
  readIntegers(name: string): { shape: number[]; values: number[] } {
    const info = this.tensors.get(name);
    if (!info) this.fail(`no tensor '${name}'`);
    if (info.dtype !== "I64" && info.dtype !== "I32") {
      const t = this.read(name);
      if (!t.data.every(Number.isInteger)) this.fail(`tensor '${name}' must hold integers`);
      return { shape: t.shape, values: Array.from(t.data) };
    }
    const bytes = Buffer.alloc(info.end - info.begin);
    readSync(this.fd, bytes, 0, bytes.length, info.begin);
    const n = bytes.length / ITEM_SIZE[info.dtype];
    const values = Array.from({ length: n }, (_, i) =>
      info.dtype === "I64" ? Number(bytes.readBigInt64LE(i * 8)) : bytes.readInt32LE(i * 4),
    );
    return { shape: info.shape, values };
  }

  close(): void {
    closeSync(this.fd);
  }
}

const f16Table = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

function toFloat32(bytes: Buffer, dtype: SafeDType, unsupported: () => never): Float32Array {
  // Copies into fresh, aligned arrays (safetensors is little-endian, as are the hosts Dawn runs on).
  const n = bytes.length / ITEM_SIZE[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      new Uint8Array(out.buffer).set(bytes);
      return out;
    case "F16": {
      const h = new Uint16Array(n);
      new Uint8Array(h.buffer).set(bytes);
      for (let i = 0; i < n; i++) out[i] = f16Table[h[i]];
      return out;
    }
    case "BF16": {
      const h = new Uint16Array(n);
      new Uint8Array(h.buffer).set(bytes);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = h[i] << 16;
      return out;
    }
    case "F64":
      for (let i = 0; i < n; i++) out[i] = bytes.readDoubleLE(i * 8);
      return out;
    default:
      return unsupported();
  }
}

/** Writes f32 tensors (and int64 ones, given as BigInt64Array) as a safetensors file. */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, HostTensor | { shape: number[]; data: BigInt64Array }>,
  metadata: Record<string, string> = {},
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const buf = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.data instanceof BigInt64Array ? "I64" : "F32", shape: t.shape, data_offsets: [offset, offset + buf.length] };
    chunks.push(buf);
    offset += buf.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json, "utf8"), ...chunks]));
}
