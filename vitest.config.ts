import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/helpers/build.ts"],
    // GPU tests share the machine's two cores with lavapipe's shader compiler: run files one at a time.
    fileParallelism: false,
    // Tests in describe.concurrent blocks (the CLI's, each waiting on a child process) run two at a time: one per core.
    // The CLI's benchmarks stay one at a time: on a new machine two of them compiling at once ran past the timeout.
    maxConcurrency: 2,
    // lavapipe compiles each pipeline with LLVM when it first runs, and on a new machine that is most of the
    // suite's time: without LLVM's optimisation passes it compiles about a third faster. The generated WGSL,
    // Dawn's validation and every comparison with the reference are unchanged; benchmarks do not set it.
    // LP_NATIVE_VECTOR_WIDTH=128 would compile 1.7x faster again (27 kernels: 15.8 s -> 9.2 s), but lavapipe's
    // subgroups then have 4 lanes, and the shuffle tilings (8 lanes) would go untested.
    env: { GALLIVM_PERF: process.env.GALLIVM_PERF ?? "nopt" },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
