import { defineConfig } from "vitest/config";

// lavapipe compiles each pipeline with LLVM, and on a new machine that is most of the suite's time:
// without LLVM's optimisation passes (GALLIVM_PERF=nopt) it compiles about a third faster, but the code it
// makes runs about 2.8 times slower (the ViT fixture: 11 ms a run against 4 ms). So the files that compile
// many distinct pipelines and run each a few times take nopt, and the few that run the same small models
// hundreds of times (1000 requests, a few hundred images embedded twice over) take LLVM's optimisation:
// warm, concurrency 29 -> 17 s and embed 44 -> 26 s. The generated WGSL, Dawn's validation and every
// comparison with the reference are the same either way; GALLIVM_PERF set by the caller applies to all
// files, and benchmarks do not set it. LP_NATIVE_VECTOR_WIDTH=128 would compile 1.7x faster again
// (27 kernels: 15.8 s -> 9.2 s), but lavapipe's subgroups then have 4 lanes: the CPU class's defaults
// would change and the shuffle tilings (8 lanes) would go untested.
const RUN_HEAVY = ["test/api/concurrency.test.ts", "test/api/dataset/embed.test.ts"];

const gallivm = (flags: string): Record<string, string> => ({ GALLIVM_PERF: process.env.GALLIVM_PERF ?? flags });

export default defineConfig({
  test: {
    globalSetup: ["./test/helpers/build.ts"],
    // GPU tests share the machine's two cores with lavapipe's shader compiler: run files one at a time.
    fileParallelism: false,
    // One worker process for all files of a project: a new one per file cost about 0.5 s each.
    isolate: false,
    // Tests in describe.concurrent blocks (the CLI's: main() in this process, or a child process) run two at a time: one per core.
    // The CLI's benchmarks stay one at a time: on a new machine two of them compiling at once ran past the timeout.
    maxConcurrency: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    projects: [
      { extends: true, test: { name: "compile-heavy", include: ["test/**/*.test.ts"], exclude: RUN_HEAVY, env: gallivm("nopt") } },
      { extends: true, test: { name: "run-heavy", include: RUN_HEAVY, env: gallivm("") } },
    ],
  },
});
