import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { globSync, isDynamicPattern } from "tinyglobby";
import { InputError } from "../../core/errors.ts";
import { readRange, tarMembers } from "./tar.ts";

/** A value of a manifest's extra column (or a WebDataset sample's text member). */
export type ItemValue = string | number | boolean | null;

/** One image of a collection. */
export interface CollectionItem {
  /** Unique in the collection: the path inside the folder, the manifest's id (or path), the WebDataset key. */
  id: string;
  /** Where the image is, in words: a file path, or `shard.tar:member`. */
  path: string;
  /** Where its bytes are: a whole file, or a range of one (a tar member). */
  at: { file: string; offset?: number; length?: number };
  /** The manifest's other columns, or a WebDataset sample's text members (txt, cls, json). */
  extra: Record<string, ItemValue>;
}

export type ColumnType = "string" | "number" | "boolean";

export interface Collection {
  items: CollectionItem[];
  /** The extra columns in first-seen order, each with the type all its values share (else string). */
  columns: { name: string; type: ColumnType }[];
}

// Formats Tesserae does not decode are listed too, so that they are reported (not a PNG or JPEG) rather than silently left out.
const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"]);
const TEXT_MEMBERS = new Set(["txt", "cls", "json"]);
/** Columns every row has; a manifest may not use these names for its extra columns. */
export const RESERVED_COLUMNS = ["id", "path", "embedding", "model", "config_hash"];
const PATH_COLUMNS = ["path", "image", "file", "filename"];

const isImage = (name: string): boolean => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
const posix = (p: string): string => p.split(sep).join("/");

/** The bytes of an item's image. */
export function itemBytes(item: CollectionItem): Uint8Array {
  return readRange(item.at.file, item.at.offset, item.at.length);
}

function walk(dir: string, seen = new Set<string>()): string[] {
  // A symbolic link is followed once: a link back to a folder above is not walked again.
  const real = realpathSync(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const path = join(dir, e.name);
      const stat = e.isSymbolicLink() ? statSync(path, { throwIfNoEntry: false }) : e;
      if (stat?.isDirectory()) return walk(path, seen);
      return stat?.isFile() && isImage(e.name) ? [path] : [];
    });
}

function folderItems(dir: string): CollectionItem[] {
  return walk(dir).map((file) => ({ id: posix(relative(dir, file)), path: file, at: { file }, extra: {} }));
}

function globItems(pattern: string): CollectionItem[] {
  const files = globSync(pattern, { onlyFiles: true, expandDirectories: false, absolute: isAbsolute(pattern) }).sort();
  if (files.length === 0) throw new InputError(`input '${pattern}' matches no file`);
  return files.map((file) => ({ id: posix(file), path: file, at: { file }, extra: {} }));
}

function manifestValue(v: unknown): ItemValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return JSON.stringify(v);
}

/** Rows of a CSV (with a header line) or JSONL manifest, each with the line it came from. */
function manifestRows(file: string): { line: number; row: Record<string, unknown> }[] {
  const text = readFileSync(file, "utf8");
  if (extname(file).toLowerCase() === ".csv") {
    try {
      const records: { record: Record<string, string>; info: { lines: number } }[] = parseCsv(text, {
        columns: true,
        skip_empty_lines: true,
        bom: true,
        info: true,
      });
      return records.map(({ record, info }) => ({ line: info.lines, row: record }));
    } catch (e) {
      throw new InputError(`${file}: not a CSV manifest: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return text.split("\n").flatMap((l, i) => {
    if (l.trim() === "") return [];
    let row: unknown;
    try {
      row = JSON.parse(l);
    } catch (e) {
      throw new InputError(`${file}:${i + 1}: not a JSON line: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row))
      throw new InputError(`${file}:${i + 1}: a JSONL manifest line must be an object`);
    return [{ line: i + 1, row: row as Record<string, unknown> }];
  });
}

function manifestItems(file: string): CollectionItem[] {
  const base = dirname(file);
  return manifestRows(file).map(({ line, row }) => {
    const pathColumn = PATH_COLUMNS.find((c) => typeof row[c] === "string" && row[c] !== "");
    if (!pathColumn) throw new InputError(`${file}:${line}: no image path (give a column named ${PATH_COLUMNS.join(", ")})`);
    const given = row[pathColumn] as string;
    const at = isAbsolute(given) ? given : join(base, given);
    const id = row.id === undefined || row.id === null || row.id === "" ? given : String(row.id);
    const extra: Record<string, ItemValue> = {};
    for (const [k, v] of Object.entries(row)) {
      if (k === "id" || k === pathColumn) continue;
      if (RESERVED_COLUMNS.includes(k)) throw new InputError(`${file}:${line}: column '${k}' is reserved (${RESERVED_COLUMNS.join(", ")})`);
      extra[k] = manifestValue(v);
    }
    return { id, path: at, at: { file: at }, extra };
  });
}

/** A WebDataset shard: one sample per key (member path up to the first dot of its name), its image and text members. */
function tarItems(file: string): CollectionItem[] {
  const samples = new Map<string, CollectionItem>();
  for (const m of tarMembers(file)) {
    const name = basename(m.name);
    const dot = name.indexOf(".");
    if (dot <= 0) continue;
    const key = `${posix(dirname(m.name)) === "." ? "" : `${posix(dirname(m.name))}/`}${name.slice(0, dot)}`;
    const ext = name.slice(dot + 1).toLowerCase();
    const sample = samples.get(key) ?? { id: key, path: "", at: { file }, extra: {} };
    samples.set(key, sample);
    if (isImage(name) && sample.path === "") {
      sample.path = `${file}:${m.name}`;
      sample.at = { file, offset: m.offset, length: m.length };
    } else if (TEXT_MEMBERS.has(ext)) {
      sample.extra[ext] = Buffer.from(readRange(file, m.offset, m.length))
        .toString("utf8")
        .trim();
    }
  }
  return [...samples.values()].filter((s) => s.path !== "");
}

function inputItems(input: string): CollectionItem[] {
  const stat = statSync(input, { throwIfNoEntry: false });
  if (!stat) {
    if (isDynamicPattern(input)) return globItems(input);
    throw new InputError(`input ${input}: no such file or folder`);
  }
  if (stat.isDirectory()) return folderItems(input);
  const ext = extname(input).toLowerCase();
  if (ext === ".csv" || ext === ".jsonl") return manifestItems(input);
  if (ext === ".tar") return tarItems(input);
  return [{ id: posix(input), path: input, at: { file: input }, extra: {} }];
}

function columnType(values: ItemValue[]): ColumnType {
  const present = values.filter((v) => v !== null);
  if (present.length > 0 && present.every((v) => typeof v === "number")) return "number";
  if (present.length > 0 && present.every((v) => typeof v === "boolean")) return "boolean";
  return "string";
}

/**
 * Every image of some inputs: folders (recursive, PNG and JPEG), glob patterns, CSV or JSONL manifests
 * (a path column and any others, kept), WebDataset `.tar` shards, or image files. Ids must be unique.
 */
export function listCollection(inputs: readonly string[]): Collection {
  if (inputs.length === 0) throw new InputError("no inputs: give folders, glob patterns, manifests (.csv, .jsonl) or .tar shards");
  const items: CollectionItem[] = [];
  const seen = new Map<string, string>();
  for (const input of inputs) {
    for (const item of inputItems(input)) {
      const other = seen.get(item.id);
      if (other !== undefined)
        throw new InputError(`id '${item.id}' appears twice (${other} and ${item.path}): ids must be unique in a collection`);
      seen.set(item.id, item.path);
      items.push(item);
    }
  }
  const names = [...new Set(items.flatMap((i) => Object.keys(i.extra)))];
  const columns = names.map((name) => ({ name, type: columnType(items.map((i) => i.extra[name] ?? null)) }));
  for (const { name, type } of columns)
    if (type === "string")
      for (const item of items)
        if (item.extra[name] !== undefined && item.extra[name] !== null) item.extra[name] = String(item.extra[name]);
  return { items, columns };
}

/** The image bytes a stored row's path names: a file, or `shard.tar:member`. */
export function bytesAtPath(path: string): Uint8Array {
  const tar = /^(.*\.tar):(.+)$/.exec(path);
  if (!tar) return readRange(path);
  const member = tarMembers(tar[1]).find((m) => m.name === tar[2]);
  if (!member) throw new InputError(`${tar[1]}: no member ${tar[2]}`);
  return readRange(tar[1], member.offset, member.length);
}

/** An absolute path for a stored row, so a database can be searched from anywhere. */
export const storedPath = (item: CollectionItem): string =>
  item.at.offset === undefined ? resolve(item.path) : `${resolve(item.at.file)}:${item.path.slice(item.at.file.length + 1)}`;
