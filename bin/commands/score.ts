import { renameSync, rmSync } from "node:fs";
import { basename, resolve } from "node:path";
import { describeWeights, load } from "../../api/load.ts";
import { UsageError } from "../../core/errors.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { writeSafetensors } from "../../runtime/weights/safetensors.ts";
import { one, parseArgs } from "../args.ts";
import { compileFromArgs, MODEL_FLAGS, requireGraph, seedOf, targetFlag, warn } from "../load.ts";
import { io } from "../io.ts";

const COLUMN = 22;

/** A probability as a percentage, small ones in exponent form rather than as 0.00%. */
function percent(p: number): string {
  const pc = 100 * p;
  return pc >= 0.01 || pc === 0 ? `${pc.toFixed(2)}%` : `${pc.toExponential(1)}%`;
}

/** A fixed-width cell: text cut with an ellipsis, or padded. */
function cell(text: string, width = COLUMN): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padStart(width);
}

/**
 * `tesserae score <graph> --weights DIR --image PATH... --text "..."...`: image-text probabilities for a
 * contrastive graph (CLIP, SigLIP), every image against every text in one batch, as a table on stdout;
 * `--out FILE` writes the embeddings, logits, probabilities and loss.
 */
export async function scoreCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: [...MODEL_FLAGS, "image", "text", "tokenizer", "out", "target"], repeatable: ["set", "image", "text"] },
    "score",
  );
  const graphPath = requireGraph(args, "score");
  const images = args.values.get("image") ?? [];
  const texts = args.values.get("text") ?? [];
  if (images.length === 0 || texts.length === 0) throw new UsageError('score needs at least one --image PATH and one --text "..."');
  const outPath = one(args, "out");
  if (outPath && [...images, graphPath].some((p) => resolve(p) === resolve(outPath)))
    throw new UsageError(`--out ${outPath} would overwrite one of the inputs`);

  const compiled = compileFromArgs(graphPath, args);
  const length = compiled.config.context;
  if (!compiled.inputs.some((i) => i.name === "input_ids") || typeof length !== "number") {
    throw new UsageError(
      `${graphPath} is not an image-text graph: it needs an input_ids input and a 'context' config value (the text length)`,
    );
  }
  if (one(args, "tokenizer") === undefined && one(args, "weights") === undefined)
    throw new UsageError("score needs the checkpoint's tokenizer: --weights DIR with tokenizer.json, or --tokenizer PATH");
  const loadOptions = { seed: seedOf(args), tokenizer: one(args, "tokenizer"), onWarning: warn, target: targetFlag(args) };
  const model = await load(compiled, loadOptions);
  const t0 = performance.now();
  // Released on failure too: main() may run in a process that goes on (the tests call it in theirs).
  const scores = await model.score(images, texts).finally(() => model.dispose());
  const ms = performance.now() - t0;

  const out = io().out;
  out.write(`${"".padStart(COLUMN)} ${texts.map((t) => cell(t)).join(" ")}\n`);
  images.forEach((img, i) => {
    const row = scores.probs[i];
    const best = row.indexOf(Math.max(...row));
    out.write(`${cell(basename(img))} ${row.map((p, j) => cell(`${j === best ? "*" : ""}${percent(p)}`)).join(" ")}\n`);
  });
  const loss = scores.outputs.loss;
  if (loss && images.length === texts.length)
    out.write(`loss over the ${images.length} pairs (image i with text i): ${loss.data[0].toFixed(6)}\n`);
  io().err.write(
    `model ${compiled.name} (${graphPath}), ${describeWeights(compiled, loadOptions)}; ${texts.length} texts of ${length} tokens, adapter ${model.adapter}, ${ms.toFixed(0)} ms\n`,
  );

  if (outPath) {
    const tensors = new Map<string, HostTensor | { shape: number[]; data: BigInt64Array }>([["pixel_values", scores.pixelValues]]);
    tensors.set("input_ids", { shape: [scores.inputIds.length, length], data: BigInt64Array.from(scores.inputIds.flat().map(BigInt)) });
    for (const [name, t] of Object.entries(scores.outputs)) if (name !== "loss" || images.length === texts.length) tensors.set(name, t);
    const tmp = `${outPath}.tmp-${process.pid}`;
    try {
      writeSafetensors(tmp, tensors, { graph: graphPath, model: compiled.name, texts: JSON.stringify(texts) });
      renameSync(tmp, outPath);
    } finally {
      rmSync(tmp, { force: true });
    }
    io().err.write(`wrote ${outPath} (${[...tensors.keys()].join(", ")})\n`);
  }
  return 0;
}
