// `npx tsx bench/f16-check.ts`: what checking every f16 store against f16's range costs. Each graph is
// compiled twice with f16 storage, with the check and without, loaded side by side on one device and
// run in alternation (the first run of each compiles its pipelines and is not counted).
import { compileFile } from "../compiler/frontend.ts";
import { compileProgram } from "../compiler/compile.ts";
import { getGpu } from "../runtime/device.ts";
import { Executor } from "../runtime/executor/executor.ts";
import { imageInputs } from "../runtime/inputs.ts";
import { lazyRandomWeights } from "../runtime/weights/random.ts";
import { syntheticImage } from "./synthetic.ts";

const CASES = [
  { graph: "graphs/vit.tsr", preset: "base16", label: "ViT-B/16-224" },
  { graph: "graphs/clip.tsr", preset: "b32", label: "CLIP ViT-B/32-224" },
  {
    graph: "graphs/siglip.tsr",
    preset: "so400m14_384",
    overrides: { layers: "2" },
    label: "SigLIP so400m/14-384 (2 of 27 blocks)",
    size: 384,
  },
];
const RUNS = Number(process.env.RUNS ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const gpu = await getGpu();
const rows: string[] = ["| graph | f16 median ms | f16 + range check median ms | ratio |", "|---|---:|---:|---:|"];
for (const c of CASES) {
  const program = compileFile(c.graph, { preset: c.preset, overrides: c.overrides });
  const weights = lazyRandomWeights(program.graph, 0);
  const size = c.size ?? 224;
  const { inputs } = imageInputs(program, [syntheticImage(size, size)], ["synthetic"]);
  const plain = await Executor.load(
    gpu,
    compileProgram(program, { fuse: true, storage: "f16", target: gpu, f16RangeCheck: false }),
    weights,
  );
  const checked = await Executor.load(gpu, compileProgram(program, { fuse: true, storage: "f16", target: gpu }), weights);
  await plain.run(inputs);
  await checked.run(inputs);
  const times: { plain: number[]; checked: number[] } = { plain: [], checked: [] };
  for (let i = 0; i < RUNS; i++) {
    times.plain.push((await plain.run(inputs)).ms);
    times.checked.push((await checked.run(inputs)).ms);
  }
  const [a, b] = [median(times.plain), median(times.checked)];
  rows.push(`| ${c.label} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(3)}x |`);
  process.stderr.write(`${c.label}: f16 ${a.toFixed(0)} ms, checked ${b.toFixed(0)} ms (${(b / a).toFixed(3)}x)\n`);
  plain.dispose();
  checked.dispose();
}
process.stdout.write(`${rows.join("\n")}\n\nadapter: ${gpu.adapterName}, ${RUNS} runs each, alternating\n`);
