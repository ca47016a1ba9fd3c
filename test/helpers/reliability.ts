import { TestRunner, type TaskMeta } from "vitest";

/** One row of docs/RELIABILITY.md: a kind of hostile input or fault, how many were tried, what came of them. */
export interface ReliabilityRow {
  area: "graph files" | "checkpoints" | "images" | "device" | "determinism" | "files" | "servers" | "load" | "datasets";
  case: string;
  tried: number;
  outcome: string;
}

declare module "vitest" {
  interface TaskMeta {
    reliability?: ReliabilityRow[];
  }
}

/**
 * Records a reliability case on the running test, once its expectations have passed (call it last);
 * the summary reporter gathers the rows of passed tests into docs/RELIABILITY.md after a full run.
 * A test of a describe.concurrent block passes its own (the context's `task`): after an await, the
 * runner's current test may be another one of the block.
 */
export function reliable(row: ReliabilityRow, test: { meta: TaskMeta } | undefined = TestRunner.getCurrentTest()): void {
  if (!test) throw new Error("reliable() must be called inside a test");
  test.meta.reliability ??= [];
  test.meta.reliability.push(row);
}
