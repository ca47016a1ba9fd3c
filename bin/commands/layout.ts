import { writeFileSync } from "node:fs";
import { layout as tokenLayout } from "../../api/layout.ts";
import { UsageError } from "../../core/errors.ts";
import { readImage, type RgbImage } from "../../runtime/image/decode.ts";
import { layoutJson } from "../../runtime/layout/json.ts";
import { one, parseArgs } from "../args.ts";
import { readFrames, videoFps } from "../frames.ts";
import { compileFromArgs, MODEL_FLAGS, requireGraph } from "../load.ts";
import { io } from "../io.ts";

const SIZE = /^(\d+)x(\d+)$/;

/** `--image` values: a file, or WxH for an image of that size (only its size matters to the layout). */
async function imageOrSize(spec: string): Promise<RgbImage> {
  const m = SIZE.exec(spec);
  if (!m) return readImage(spec);
  const [width, height] = [Number(m[1]), Number(m[2])];
  if (width < 1 || height < 1 || width * height > 1 << 28)
    throw new UsageError(`--image ${spec}: a size must be between 1x1 and 2^28 pixels`);
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/**
 * `tesserae layout <graph> [--image PATH|WxH]... [--prompt TEXT]`: the LLM token sequence as JSON —
 * segments (text, special tokens, image spans with their counts), total length, input ids and, for
 * Qwen graphs, the M-RoPE position ids. Text is tokenized with the checkpoint's tokenizer.json
 * (`--weights DIR` or `--tokenizer PATH`).
 */
export async function layoutCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: [...MODEL_FLAGS, "image", "video", "video-fps", "prompt", "tokenizer", "out"], repeatable: ["set", "image", "video"] },
    "layout",
  );
  const graphPath = requireGraph(args, "layout");
  const compiled = compileFromArgs(graphPath, args);
  if (!compiled.program.layout)
    throw new UsageError(`${graphPath} declares no layout section: its outputs are not placed in an LLM's sequence`);
  const specs = args.values.get("image") ?? [];
  const images = await Promise.all(specs.map(imageOrSize));
  const fps = videoFps(one(args, "video-fps"));
  const clips = await Promise.all((args.values.get("video") ?? []).map(async (v) => ({ frames: await readFrames(v), name: v, fps })));
  const layout = await tokenLayout(compiled, images, one(args, "prompt"), {
    names: specs,
    videos: clips,
    tokenizer: one(args, "tokenizer"),
  });
  if (layout.length === null) {
    io().err.write(
      "tesserae: the prompt has text but no tokenizer was given (--weights DIR with tokenizer.json, or --tokenizer PATH): text segments have no ids, so the length and positions are left out\n",
    );
  }
  const json = layoutJson(compiled.name, layout);
  const out = one(args, "out");
  if (out) writeFileSync(out, json);
  else io().out.write(json);
  return 0;
}
