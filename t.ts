import { compileFile } from "./compiler/frontend.ts";
import { compileProgram } from "./compiler/compile.ts";
import { getGpu } from "./runtime/device.ts";
import { Executor } from "./runtime/executor.ts";
import { interpret } from "./runtime/reference/interpreter.ts";
import { randomWeights, randomTensor, rng } from "./runtime/weights/random.ts";
import { maxAbsDiff } from "./runtime/tensor.ts";
for (const [f, set] of [["graphs/clip.tsr", {image: "64", patch: "16", hidden: "48", layers: "2", heads: "4", mlp_width: "80", projection: "24"}], ["graphs/vit.tsr", {image: "48", patch: "16", hidden: "36", layers: "2", heads: "3", mlp_width: "70"}]] as const) {
  const p = compileFile(f, { overrides: set });
  const w = randomWeights(p.graph, 1);
  const x = randomTensor([2, 3, Number(set.image), Number(set.image)], rng(2));
  const ref = interpret(p.graph, new Map([["pixel_values", x]]), w, { B: 2 });
  const ctx = await getGpu();
  for (const fuse of [true, false]) {
    const plan = compileProgram(p, { fuse });
    const ex = await Executor.load(ctx, plan, w);
    const r = await ex.run(new Map([["pixel_values", x]]));
    for (const [k, v] of r.outputs) console.log(f, fuse, plan.kernels.length, k, v.shape, maxAbsDiff(v, ref.get(k)!), r.ms.toFixed(1));
  }
}
