import { defineConfig } from "vitest/config";
import SlowestFirst from "./test/helpers/sequencer.ts";

// lavapipe compiles each pipeline with LLVM at its first dispatch, and on a new machine that is most of the
// suite's time. Three settings per file, as vitest projects:
// - Without LLVM's optimisation passes (GALLIVM_PERF=nopt) lavapipe compiles about a third faster, but the
//   code it makes runs about 2.8 times slower (the ViT fixture: 11 ms a run against 4 ms). So the files that
//   compile many distinct pipelines and run each a few times take nopt, and the two that run the same small
//   models hundreds of times (1000 requests, a few hundred images embedded twice over) keep the optimisation:
//   warm, concurrency 29 -> 17 s and embed 44 -> 26 s.
// - The files whose kernels use no subgroup operation (the portable class's in kernels.test, the GPU class's
//   in gpu-tilings.test and target.test) run with lavapipe's SIMD width at 4 lanes (LP_NATIVE_VECTOR_WIDTH=128,
//   as on a CPU without AVX): the WGSL under test is the same, and lavapipe compiles it 1.7 to 2.8 times faster
//   (the 12 slowest GPU-class kernels of target.test: 59.9 s -> 21.5 s). Every other file keeps the machine's
//   8 lanes: the CPU class's defaults and the shuffle tilings need subgroups of 8.
// The generated WGSL, Dawn's validation and every comparison with the reference are the same either way;
// GALLIVM_PERF or LP_NATIVE_VECTOR_WIDTH set by the caller applies to all files, and benchmarks set neither.
const RUN_HEAVY = ["test/api/concurrency.test.ts", "test/api/dataset/embed.test.ts"];
const FOUR_LANES = ["test/runtime/kernels.test.ts", "test/runtime/gpu-tilings.test.ts", "test/api/target.test.ts"];

const lavapipe = (perf: string, vectorWidth?: string): Record<string, string> => {
  const width = process.env.LP_NATIVE_VECTOR_WIDTH ?? vectorWidth;
  return { GALLIVM_PERF: process.env.GALLIVM_PERF ?? perf, ...(width === undefined ? {} : { LP_NATIVE_VECTOR_WIDTH: width }) };
};

export default defineConfig({
  test: {
    globalSetup: ["./test/helpers/build.ts"],
    // Two files at a time, one per core: while one waits on lavapipe's compiler the other runs. This pays
    // only since Dawn's polling is paced (runtime/dawn-polling.ts); before, each waiting file spun a core.
    fileParallelism: true,
    maxWorkers: 2,
    // One worker process for all files of a project: a new one per file cost about 0.5 s each.
    isolate: false,
    // Tests in describe.concurrent blocks (the CLI's: main() in this process, or a child process) run two at a time: one per core.
    // The CLI's benchmarks stay one at a time: on a new machine two of them compiling at once ran past the timeout.
    maxConcurrency: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    sequence: { sequencer: SlowestFirst },
    projects: [
      {
        extends: true,
        test: { name: "compile-heavy", include: ["test/**/*.test.ts"], exclude: [...RUN_HEAVY, ...FOUR_LANES], env: lavapipe("nopt") },
      },
      { extends: true, test: { name: "four-lanes", include: FOUR_LANES, env: lavapipe("nopt", "128") } },
      { extends: true, test: { name: "run-heavy", include: RUN_HEAVY, env: lavapipe("") } },
    ],
  },
});
