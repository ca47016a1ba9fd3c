import { DiagnosticError } from "../dsl/diagnostics.ts";
import { TesseraeError } from "../core/errors.ts";
import { compileCommand } from "./commands/compile.ts";
import { explainCommand } from "./commands/explain.ts";
import { checkCommand, irCommand } from "./commands/inspect.ts";
import { layoutCommand } from "./commands/layout.ts";
import { runCommand } from "./commands/run.ts";
import { scoreCommand } from "./commands/score.ts";
import { io, withIo, type Io } from "./io.ts";

const USAGE = `usage: tesserae <command> [options]

commands:
  check <graph.tsr>   parse, elaborate and compile a graph file; report errors with file:line:col
  ir <graph.tsr>      print the graph IR (primitive ops with shapes and source lines); --after STEP:
                      the graph after a step of the compile (elaborated, split-sliced-params,
                      push-gathers, duplicate-views, merge-linears, fold-norms, transpose-weights,
                      mark-stored-weights, split-weight-preparation), verified; --no-fuse: the unfused compile's steps
  explain <graph.tsr> the kernels in order: fused ops, source lines, FLOPs and bytes
                      (--format text|json|dot|html, --batch N, --no-fuse, --target cpu|gpu|auto); --why: under each kernel,
                      why its result is written to memory and the fusion rule that joined each op
  run <graph.tsr>     run a graph on images or pixel values on the WebGPU device
  compile <graph.tsr> --out DIR   plan.json, kernels/*.wgsl and an ES module (model.js + model.d.ts,
                      generated with ts-morph) that imports only tesserae/runtime: its load({ weights })
                      serves the compiled graph in Node or a browser (--weights, --preset, --set, --dtype,
                      --no-fuse, --runtime SPEC: the module model.js imports the runtime from, --target
                      cpu|gpu: that class's kernels instead of portable ones)
  score <graph.tsr>   image-text probabilities of a contrastive graph (graphs/clip-score.tsr):
                      every --image against every --text "..." in one batch, as a table; --out FILE
  embed <graph.tsr> --weights DIR <inputs>... --out DB
                      every image of folders, glob patterns, manifests (.csv/.jsonl: a path column,
                      the others kept) and WebDataset .tar shards, one vector each (--output, default
                      image_embeds) into a LanceDB database (--format parquet: Parquet parts);
                      resumable: run it again to embed only what is missing; unreadable images are
                      listed and skipped (--batch N, --memory MiB, --threads N, --shard I/N or
                      JOB_COMPLETION_INDEX/COUNT; --merge --out DB joins the shards; --queue
                      redis://HOST:PORT enqueues the batches and stores what workers return, and
                      embed <graph> --weights DIR --queue URL --worker is a worker, on any machine)
  search DB           the rows nearest a --text "..." (a contrastive graph's text tower), an
                      --image PATH or a stored row (--like ID), as a table (-k N, default 10; --json)
  layout <graph.tsr>  the LLM token sequence for images and a prompt, as JSON: segments, length,
                      input ids, M-RoPE position ids (--image PATH|WxH, --prompt TEXT with <image>
                      marks, --tokenizer PATH or the tokenizer.json in --weights DIR, --out FILE)
  bench <graph.tsr>.. fused and unfused latency side by side, per-kernel GPU time, GFLOP/s; --peers:
                      ONNX Runtime CPU, its own WebGPU (onnxruntime-node) and onnxruntime-web's WebGPU
                      on dawn.node, on the exported graph, checked against Tesserae, side by side
                      (--preset, --set, --dtype f32|f16, --runs N, --batch N, --image WxH, --no-fuse, --peers,
                      --tune: measure untuned kernel shapes first, --out FILE, --target cpu|gpu|auto)
  tune <graph.tsr>..  the autotuner: times each candidate tiling of every matmul and attention shape
                      on this adapter and caches the fastest in ~/.cache/tesserae/tuning.json
                      ($TESSERAE_TUNING); run, score and bench use the cached choices
                      (--preset, --set, --dtype, --batch, --image WxH, --runs N, --retune, --target;
                      a forced class's choices are cached apart from the adapter's own)

model options (check, ir, run, layout):
  --weights DIR       Hugging Face checkpoint (config.json + model.safetensors or a sharded index)
  --preset NAME       a published size declared in the graph file (random weights)
  --set key=value     override a config value (repeatable)
  --seed N            seed for random weights (default 0)

run options:
  --image PATH        PNG or JPEG (repeatable: several images run as one batch)
  --video FRAMES      a folder of PNG/JPEG frames or a comma-separated list of them (Qwen graphs;
                      repeatable); --video-fps F is the frames' own rate, so they are sampled at 2 fps
  --prompt TEXT       the text around the images, <image> / <video> marking their places; with --out,
                      the token layout is written next to the tensors (FILE.layout.json)
  --tokenizer PATH    tokenizer.json (default: the one in --weights DIR) for the prompt's text
  --runs N            run N times: cold, then the warm median (default 2; 1 when the first run
                      takes over a minute)
  --pixel-values FILE safetensors file with 'pixel_values'; skips preprocessing
  --out FILE          write pixel_values and the graph's outputs as safetensors
  --no-fuse           one primitive per kernel (the unfused baseline)
  --dtype f32|f16     how weights and activations are stored on the GPU (f16 needs shader-f16;
                      arithmetic, statistics and softmax stay f32)
  --target cpu|gpu|auto  the adapter class whose kernels the plan takes (also score, bench, tune;
                      TESSERAE_TARGET sets it for every command): auto (the default) the adapter's own
                      (cpu for a fallback adapter, lavapipe or SwiftShader, else gpu); the other class
                      runs correctly anywhere, fast only on its class
`;

// The benchmark's modules (the ONNX exporter, the peers) load only for the commands that use them.
const benchCommand = async (argv: string[]): Promise<number> => (await import("./commands/bench.ts")).benchCommand(argv);
const embedCommand = async (argv: string[]): Promise<number> => (await import("./commands/embed.ts")).embedCommand(argv);
const searchCommand = async (argv: string[]): Promise<number> => (await import("./commands/search.ts")).searchCommand(argv);
const tuneCommand = async (argv: string[]): Promise<number> => (await import("./commands/tune.ts")).tuneCommand(argv);

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  check: checkCommand,
  ir: irCommand,
  explain: explainCommand,
  run: runCommand,
  compile: compileCommand,
  layout: layoutCommand,
  score: scoreCommand,
  embed: embedCommand,
  search: searchCommand,
  bench: benchCommand,
  tune: tuneCommand,
};

/**
 * Bad input ends in one clear message and exit code 1; anything else is a bug, reported as such (exit 2).
 * Output goes to the process's stdout and stderr, or to `streams`.
 */
export async function main(argv: string[], streams?: Io): Promise<number> {
  return streams ? withIo(streams, () => command(argv)) : command(argv);
}

async function command(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    io().out.write(USAGE);
    return command ? 0 : 1;
  }
  const run = COMMANDS[command];
  if (!run) {
    io().err.write(`tesserae: unknown command '${command}'\n\n${USAGE}`);
    return 1;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof DiagnosticError) {
      io().err.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof TesseraeError) {
      io().err.write(`tesserae: error: ${e.message}\n`);
      return 1;
    }
    const msg = e instanceof Error ? (process.env.TESSERAE_DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
    io().err.write(`tesserae: internal error: ${msg}\n(this is a bug in Tesserae; set TESSERAE_DEBUG=1 for a stack trace)\n`);
    return 2;
  }
}
