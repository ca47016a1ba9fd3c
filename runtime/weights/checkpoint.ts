import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { evalDim } from "../../core/dims.ts";
import type { Graph } from "../../core/graph.ts";
import { bestNameMap, type NameMap, type WeightNaming } from "../../core/weight-names.ts";
import type { HostTensor, WeightSource } from "../tensor.ts";
import { WeightsError } from "../../core/errors.ts";
import { SafetensorsFile } from "./safetensors.ts";

function readJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new WeightsError(`${path} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * preprocessor_config.json, or where a processor saved by transformers 5 holds it, the `image_processor`
 * entry of processor_config.json.
 */
function imageProcessorConfig(dir: string): unknown {
  const own = readJson(join(dir, "preprocessor_config.json"));
  if (own !== undefined) return own;
  const processor = readJson(join(dir, "processor_config.json"));
  return typeof processor === "object" && processor !== null && "image_processor" in processor ? processor.image_processor : undefined;
}

/**
 * A Hugging Face checkpoint: a directory with config.json and model.safetensors (or a sharded
 * model.safetensors.index.json), or a single .safetensors file. Only the tensors a graph needs are read.
 */
export class Checkpoint {
  private readonly files = new Map<string, SafetensorsFile>();
  /** Tensor name to the file holding it. */
  private readonly where = new Map<string, string>();

  private constructor(
    readonly location: string,
    readonly config: unknown,
    readonly preprocessorConfig: unknown,
  ) {}

  static open(location: string): Checkpoint {
    if (!existsSync(location)) throw new WeightsError(`checkpoint ${location} does not exist`);
    const isDir = statSync(location).isDirectory();
    const dir = isDir ? location : dirname(location);
    const ckpt = new Checkpoint(location, readJson(join(dir, "config.json")), imageProcessorConfig(dir));
    if (!isDir) {
      ckpt.addFile(location);
      return ckpt;
    }
    const index = join(dir, "model.safetensors.index.json");
    const single = join(dir, "model.safetensors");
    if (existsSync(single)) ckpt.addFile(single);
    else if (existsSync(index)) ckpt.addIndex(index, dir);
    else throw new WeightsError(`checkpoint directory ${dir} has neither model.safetensors nor model.safetensors.index.json`);
    return ckpt;
  }

  private addFile(path: string): SafetensorsFile {
    let f = this.files.get(path);
    if (!f) {
      f = SafetensorsFile.open(path);
      this.files.set(path, f);
      for (const name of f.tensors.keys()) this.where.set(name, path);
    }
    return f;
  }

  private addIndex(indexPath: string, dir: string): void {
    let index: { weight_map?: Record<string, unknown> };
    try {
      index = JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map?: Record<string, unknown> };
    } catch (e) {
      throw new WeightsError(`${indexPath} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (typeof index.weight_map !== "object" || index.weight_map === null) throw new WeightsError(`${indexPath} has no weight_map`);
    for (const [name, file] of Object.entries(index.weight_map)) {
      if (typeof file !== "string" || file.includes("/") || file.includes("\\"))
        throw new WeightsError(`${indexPath}: tensor '${name}' maps to an invalid shard name ${JSON.stringify(file)}`);
      this.where.set(name, join(dir, file));
    }
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  get names(): string[] {
    return [...this.where.keys()];
  }

  read(name: string): HostTensor {
    const path = this.where.get(name);
    if (!path) throw new WeightsError(`${this.location}: no tensor '${name}'`);
    if (!this.files.has(path) && !existsSync(path))
      throw new WeightsError(`${this.location}: the index puts tensor '${name}' in ${path}, which does not exist`);
    const f = this.addFile(path);
    if (!f.tensors.has(name)) throw new WeightsError(`${path}: the index lists tensor '${name}' here, but the file does not contain it`);
    return f.read(name);
  }

  /** The naming (of the graph's prefixes and renames) under which this checkpoint stores the graph's tensors. */
  chooseNames(naming: WeightNaming, names: readonly string[]): NameMap {
    return bestNameMap(naming, names, (n) => this.has(n));
  }

  /** Reads every parameter of the graph, checking that each exists with the declared shape (and warning of NaN/Inf). */
  loadFor(
    g: Graph,
    naming: WeightNaming,
    warn: (message: string) => void = () => {},
    progress: (done: number, total: number) => void = () => {},
  ): Map<string, HostTensor> {
    const source = this.sourceFor(g, naming, warn);
    const names = g.nodes.flatMap((n) => (n.op.kind === "param" ? [n.op.name] : []));
    const out = new Map<string, HostTensor>();
    names.forEach((name, i) => {
      progress(i, names.length);
      out.set(name, source.get(name) as HostTensor);
    });
    return out;
  }

  /**
   * The graph's parameters as a source read on demand: names and shapes are checked now, from the files'
   * headers, and each tensor is read when the executor uploads it, so the host never holds the whole
   * checkpoint (a real-size model loads in the memory of its largest tensor, not of all of them).
   */
  sourceFor(g: Graph, naming: WeightNaming, warn: (message: string) => void = () => {}): WeightSource {
    const params = g.nodes.filter((n) => n.op.kind === "param");
    const names = params.map((n) => (n.op.kind === "param" ? n.op.name : ""));
    const stored = this.chooseNames(naming, names);
    const missing = names.filter((n) => !this.has(stored(n)));
    if (missing.length > 0) {
      const more = missing.length > 3 ? ` and ${missing.length - 3} more` : "";
      throw new WeightsError(
        `${this.location} lacks tensor${missing.length > 1 ? "s" : ""} ${missing
          .slice(0, 3)
          .map((m) => `'${stored(m)}'`)
          .join(", ")}${more} that graph '${g.name}' needs`,
      );
    }
    for (const n of params) {
      if (n.op.kind !== "param") continue;
      const path = this.where.get(stored(n.op.name)) as string;
      const info = existsSync(path) || this.files.has(path) ? this.addFile(path).tensors.get(stored(n.op.name)) : undefined;
      const expected = n.shape.map((d) => evalDim(d, {}));
      if (info && !(info.shape.length === expected.length && info.shape.every((d, i) => d === expected[i]))) {
        throw new WeightsError(
          `tensor '${stored(n.op.name)}' in ${path} has shape [${info.shape.join(", ")}], but graph '${g.name}' expects [${expected.join(", ")}]`,
        );
      }
    }
    return {
      get: (name) => {
        if (!this.has(stored(name))) return undefined;
        const t = this.read(stored(name));
        const bad = t.data.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0)
          warn(
            `warning: tensor '${stored(name)}' in ${this.where.get(stored(name))} holds ${t.data[bad]} (first at element ${bad}); outputs will not be finite`,
          );
        return t;
      },
    };
  }

  close(): void {
    for (const f of this.files.values()) f.close();
  }
}
