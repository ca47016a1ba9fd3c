import { describe, expect, it } from "vitest";
import { getGpu } from "../../runtime/device.ts";

// dawn.node polls for finished work from a setImmediate callback that reschedules itself; runtime/dawn-polling.ts
// moves a wait longer than a few milliseconds onto the timer queue. Counted here: the polls during one
// dispatch that keeps lavapipe busy for a few hundred milliseconds.

/** A shader that runs `steps` dependent multiply-adds per invocation, so that its dispatch takes a while. */
const SLOW = `@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  var acc = data[id.x];
  let steps = u32(data[0]);
  for (var i = 0u; i < steps; i = i + 1u) { acc = acc * 0.999999 + 1.0; }
  data[id.x] = acc;
}`;

const isNative = (callback: unknown): boolean =>
  typeof callback === "function" && Function.prototype.toString.call(callback).endsWith("{ [native code] }");

describe("Dawn's polling while the device works", () => {
  it("a long wait is polled about once a millisecond, not on every turn of the event loop", async () => {
    const { device } = await getGpu();
    const buffer = device.createBuffer({ size: 64 * 1024 * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const init = new Float32Array(64 * 1024).fill(1);
    init[0] = 200_000;
    device.queue.writeBuffer(buffer, 0, init);
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code: SLOW }), entryPoint: "main" },
    });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
    const dispatch = async (): Promise<number> => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(64);
      pass.end();
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - start;
    };
    await dispatch();

    const paced = globalThis.setImmediate;
    let polls = 0;
    function counting(callback: unknown, ...args: unknown[]): unknown {
      if (isNative(callback) && args.length === 0) polls++;
      return Reflect.apply(paced, globalThis, [callback, ...args]);
    }
    Object.defineProperty(globalThis, "setImmediate", { value: Object.assign(counting, paced), writable: true, configurable: true });
    let ms: number;
    try {
      ms = await dispatch();
    } finally {
      Object.defineProperty(globalThis, "setImmediate", { value: paced, writable: true, configurable: true });
    }
    buffer.destroy();
    expect(ms).toBeGreaterThan(200);
    // Measured on this 2-core machine: spinning, 109,420 polls in a 1.77 s wait (62 a millisecond), and the
    // spin's core taken from lavapipe made the dispatch slower; paced, 1,123 polls in 1.11 s.
    expect(polls).toBeLessThan(5000 + ms * 5);
  });

  it("every other setImmediate call is passed through with its arguments", async () => {
    await getGpu();
    const got = await new Promise<unknown[]>((resolve) => setImmediate((...args: unknown[]) => resolve(args), 1, "two"));
    expect(got).toEqual([1, "two"]);
    const handle = setImmediate(() => {});
    expect(typeof handle.unref).toBe("function");
    clearImmediate(handle);
  });
});
