import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.ts";
import { InputError } from "../../core/errors.ts";
import { getGpu } from "../../runtime/device.ts";
import { Executor } from "../../runtime/executor/executor.ts";
import type { HostTensor } from "../../runtime/tensor.ts";
import { compileOk } from "../helpers/compile.ts";
import { reliable } from "../helpers/reliability.ts";

// Requests past what the device can hold: one clear error naming what did not fit and how much, and
// the executor and device serve the next request as if nothing had happened.

const column = (n: number): HostTensor => ({ shape: [n, 1], data: Float32Array.from({ length: n }, (_, i) => (i % 7) - 3) });
const row = (m: number): HostTensor => ({ shape: [1, m], data: Float32Array.from({ length: m }, (_, i) => (i % 5) - 2) });

describe("past the device's limits", () => {
  it("an outer product too large for one binding fails naming it; the same executor then runs a small one", async () => {
    const ctx = await getGpu();
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const side = Math.ceil(Math.sqrt(limit / 4)) + 64;
    const p = compileOk("model t {\n  input a: f32[N, 1]\n  input b: f32[1, M]\n  output y = a * b\n}");
    const ex = await Executor.load(ctx, compileGraph(p.graph), new Map());
    const big = ex.run(
      new Map([
        ["a", column(side)],
        ["b", row(side)],
      ]),
    );
    await expect(big).rejects.toThrow(InputError);
    await expect(big).rejects.toThrow(
      new RegExp(
        `needs ${((side * side * 4) / 2 ** 20).toFixed(1)} MiB in one binding, more than this adapter's limit of ${(limit / 2 ** 20).toFixed(0)} MiB`,
      ),
    );
    const small = await ex.run(
      new Map([
        ["a", column(3)],
        ["b", row(4)],
      ]),
    );
    expect(Array.from(small.outputs.get("y")?.data ?? [], (v) => v + 0)).toEqual([6, 3, 0, -3, 4, 2, 0, -2, 2, 1, 0, -1]);
    ex.dispose();
    reliable({
      area: "device",
      case: `an output of ${((side * side * 4) / 2 ** 20).toFixed(0)} MiB from inputs of ${((side * 8) / 2 ** 10).toFixed(0)} KiB, past the ${(limit / 2 ** 20).toFixed(0)} MiB binding limit`,
      tried: 1,
      outcome: "one InputError before any GPU work naming the tensor and both sizes; the same executor then runs a small request right",
    });
  });

  it("a weight too large for one binding is refused at load, naming it; the device loads the next plan", async () => {
    const ctx = await getGpu();
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 4096;
    const p = compileOk(`model t {\n  input x: f32[4]\n  output y = x * 2\n  output z = param("big", [${n}]) * 2\n}`);
    const weights = new Map([["big", { shape: [n], data: new Float32Array(n) }]]);
    await expect(Executor.load(ctx, compileGraph(p.graph), weights)).rejects.toThrow(
      new RegExp(`weight 'big' needs ${((n * 4) / 2 ** 20).toFixed(1)} MiB in one binding, more than this adapter's limit`),
    );
    const q = compileOk("model t {\n  input x: f32[4]\n  output y = x * 2\n}");
    const ex = await Executor.load(ctx, compileGraph(q.graph), new Map());
    const { outputs } = await ex.run(new Map([["x", { shape: [4], data: new Float32Array([1, 2, 3, 4]) }]]));
    ex.dispose();
    expect(Array.from(outputs.get("y")?.data ?? [])).toEqual([2, 4, 6, 8]);
    reliable({
      area: "device",
      case: `a ${((n * 4) / 2 ** 20).toFixed(1)} MiB weight, past the binding limit`,
      tried: 1,
      outcome: "refused at load naming the weight and both sizes; the next plan loads and runs on the same device",
    });
  });
});
