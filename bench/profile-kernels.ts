// Per-kernel GPU times of one graph, fused and unfused: `tsx bench/profile-kernels.ts graphs/clip.tsr [layers]`.
import { compileProgram } from "../compiler/compile.ts";
import { compileFile } from "../compiler/frontend.ts";
import { kernelCost } from "../core/cost.ts";
import { getGpu } from "../runtime/device.ts";
import { Executor } from "../runtime/executor/executor.ts";
import { randomTensor, randomWeights, rng } from "../runtime/weights/random.ts";

const [graph = "graphs/clip.tsr", layers = "2"] = process.argv.slice(2);
const program = compileFile(graph, { preset: process.env.PRESET, overrides: { layers } });
const image = Number(program.config.image);
const ctx = await getGpu();
for (const fuse of [true, false]) {
  const plan = compileProgram(program, { fuse, target: ctx });
  const ex = await Executor.load(ctx, plan, randomWeights(program.graph, 1));
  const x = new Map([["pixel_values", randomTensor([1, 3, image, image], rng(2))]]);
  await ex.run(x);
  const r = await ex.run(x, { profile: true });
  const ms = r.kernelMs ?? [];
  console.log(
    `${fuse ? "fused" : "unfused"}: ${plan.kernels.length} kernels, GPU ${ms.reduce((a, b) => a + b, 0).toFixed(1)} ms, wall ${r.ms.toFixed(1)} ms`,
  );
  if (fuse) {
    plan.kernels.forEach((k, i) => {
      const c = kernelCost(plan.graph, k, { B: 1 });
      console.log(`  ${k.name.padEnd(16)} ${ms[i].toFixed(2).padStart(8)} ms ${(c.flops / 1e6 / ms[i]).toFixed(2).padStart(7)} GFLOP/s`);
    });
  }
  ex.dispose();
}
