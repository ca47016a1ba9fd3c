import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The files that take longest, longest first, on this 2-core machine: on a new machine (empty Mesa shader
 * cache) the GPU-heavy ones lead, with a warm cache the package and fuzz tests (npm ci, chromium, pure
 * compiling), so the list interleaves the two orders and no long file starts last in either. vitest orders
 * files by the durations it recorded in an earlier run, and without one by project, then size: a clean
 * clone then started the heaviest files last, with one core idle at the end.
 */
const SLOWEST_FIRST = [
  "test/bin/run.test.ts",
  "test/package/package.test.ts",
  "test/runtime/tilings.test.ts",
  "test/dsl/fuzz.test.ts",
  "test/bin/run-families.test.ts",
  "test/api/target.test.ts",
  "test/api/dataset/embed.test.ts",
  "test/web/browser.test.ts",
  "test/runtime/gpu-tilings.test.ts",
  "test/bin/cli.test.ts",
  "test/runtime/kernels.test.ts",
  "test/api/concurrency.test.ts",
  "test/tune/autotune.test.ts",
  "test/api/dataset/queue.test.ts",
  "test/compiler/passes.test.ts",
];

/** Runs the files listed above first, in that order, across all projects; the rest as vitest orders them. */
export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const at = SLOWEST_FIRST.indexOf(relative(this.ctx.config.root, spec.moduleId));
      return at === -1 ? SLOWEST_FIRST.length : at;
    };
    return ordered.sort((a, b) => rank(a) - rank(b));
  }
}
