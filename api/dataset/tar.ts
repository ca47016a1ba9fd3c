import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { InputError } from "../../core/errors.ts";

/** A regular file inside a tar archive: its name and where its bytes are. */
export interface TarMember {
  name: string;
  offset: number;
  length: number;
}

const BLOCK = 512;

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString("utf8");
}

function octal(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  // GNU base-256 for sizes of 8 GiB and more.
  if (field[0] & 0x80) return field.subarray(1).reduce((v, b) => v * 256 + b, field[0] & 0x7f);
  const digits = text(block, start, length).trim();
  return digits === "" ? 0 : Number.parseInt(digits, 8);
}

/** A pax extended header's `path` record, where it has one. */
function paxPath(data: Buffer): string | undefined {
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number.parseInt(data.subarray(at, space).toString("utf8"), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    if (record.startsWith("path=")) return record.slice(5);
    at += length;
  }
  return undefined;
}

/**
 * The regular files of a tar archive (ustar, pax and GNU long names), read from the headers only, so a
 * WebDataset shard's images can be read one by one from their offsets.
 */
export function tarMembers(path: string): TarMember[] {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const members: TarMember[] = [];
    const header = Buffer.alloc(BLOCK);
    let at = 0;
    let longName: string | undefined;
    while (at + BLOCK <= size) {
      readSync(fd, header, 0, BLOCK, at);
      if (header.every((b) => b === 0)) break;
      if (text(header, 257, 5) !== "ustar" && text(header, 257, 6) !== "ustar ")
        throw new InputError(`${path}: not a tar archive (no ustar header at byte ${at})`);
      const length = octal(header, 124, 12);
      const type = String.fromCharCode(header[156] || 0x30);
      const dataAt = at + BLOCK;
      if (dataAt + length > size) throw new InputError(`${path}: truncated tar archive (member at byte ${at} runs past the end)`);
      if (type === "L" || type === "x") {
        const data = Buffer.alloc(length);
        readSync(fd, data, 0, length, dataAt);
        longName = type === "L" ? text(data, 0, length) : (paxPath(data) ?? longName);
      } else if (type === "0" || type === "7") {
        const prefix = text(header, 345, 155);
        const name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
        members.push({ name, offset: dataAt, length });
        longName = undefined;
      } else {
        longName = undefined;
      }
      at = dataAt + Math.ceil(length / BLOCK) * BLOCK;
    }
    return members;
  } finally {
    closeSync(fd);
  }
}

/** Bytes of a file, or of a range of it (a tar member). */
export function readRange(file: string, offset?: number, length?: number): Uint8Array {
  const fd = openSync(file, "r");
  try {
    const n = length ?? fstatSync(fd).size - (offset ?? 0);
    const out = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, out, got, n - got, (offset ?? 0) + got);
      if (r === 0) break;
      got += r;
    }
    return new Uint8Array(out.buffer, out.byteOffset, got);
  } finally {
    closeSync(fd);
  }
}
