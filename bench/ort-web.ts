// onnxruntime-web's WebGPU execution provider inside Node, on the same dawn.node as Tesserae: its wasm
// binary given directly (no fetch in Node), one wasm thread, navigator.gpu set to dawn.node's entry
// point, and writes from the wasm memory (a SharedArrayBuffer) copied into a plain ArrayBuffer first,
// since dawn.node's writeBuffer rejects views of shared memory.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as OrtWeb from "onnxruntime-web/webgpu";
import { webgpuEntry } from "../runtime/device.ts";

let loaded: Promise<typeof OrtWeb> | undefined;

/**
 * Runs `work` with a 1 ms timer alive. onnxruntime-web waits on WebGPU promises from inside its wasm
 * (asyncify), and dawn.node completes them only when the event loop turns: without a timer a first run
 * of a 64x64 linear took 45 s here, with it 0.26 s (a browser's event loop never sleeps like Node's).
 */
export async function withEventLoopAwake<T>(work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 1);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export function ortWeb(): Promise<typeof OrtWeb> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<typeof OrtWeb> {
  const gpu = await webgpuEntry();
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator === undefined) g.navigator = { gpu };
  else if (g.navigator.gpu === undefined) Object.defineProperty(g.navigator, "gpu", { value: gpu });
  copySharedWrites();
  const ort = await import("onnxruntime-web/webgpu");
  const dist = dirname(createRequire(import.meta.url).resolve("onnxruntime-web/webgpu"));
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmBinary = readFileSync(join(dist, "ort-wasm-simd-threaded.asyncify.wasm"));
  ort.env.logLevel = "error";
  return ort;
}

function copySharedWrites(): void {
  const proto = GPUQueue.prototype as GPUQueue & { tesseraeCopiesShared?: true };
  if (proto.tesseraeCopiesShared) return;
  const write = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, ...args: Parameters<GPUQueue["writeBuffer"]>): undefined {
    const data: unknown = args[2];
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const bytes = new Uint8Array(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      // dataOffset and size count elements of the typed array: keep its element size.
      const perElement = (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      args[2] = perElement === 4 ? new Float32Array(bytes.buffer) : perElement === 2 ? new Uint16Array(bytes.buffer) : bytes;
    }
    return write.apply(this, args);
  };
  proto.tesseraeCopiesShared = true;
}
