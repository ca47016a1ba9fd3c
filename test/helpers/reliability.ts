import { TestRunner } from "vitest";

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
 */
export function reliable(row: ReliabilityRow): void {
  const test = TestRunner.getCurrentTest();
  if (!test) throw new Error("reliable() must be called inside a test");
  test.meta.reliability ??= [];
  test.meta.reliability.push(row);
}
