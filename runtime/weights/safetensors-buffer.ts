import { WeightsError } from "../../core/errors.ts";
import { fromHalf } from "../half.ts";
import type { HostTensor } from "../tensor.ts";

/**
 * Tensors of a whole safetensors file held in memory (a browser's fetch of model.safetensors): the
 * float ones as f32, by name. Node reads files through SafetensorsFile instead, tensor by tensor.
 */
export function tensorsFromBuffer(buffer: ArrayBuffer, where: string): Map<string, HostTensor> {
  if (buffer.byteLength < 8) throw new WeightsError(`${where}: not a safetensors file (${buffer.byteLength} bytes)`);
  const view = new DataView(buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > buffer.byteLength) throw new WeightsError(`${where}: not a safetensors file (its header runs past the end)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength))) as typeof header;
  } catch (e) {
    throw new WeightsError(`${where}: not a safetensors file (its header is not JSON: ${e instanceof Error ? e.message : String(e)})`);
  }
  const base = 8 + headerLength;
  const out = new Map<string, HostTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [begin, end] = info.data_offsets;
    const bytes = buffer.slice(base + begin, base + end);
    const data =
      info.dtype === "F32"
        ? new Float32Array(bytes)
        : info.dtype === "F16"
          ? fromHalf(new Uint16Array(bytes))
          : info.dtype === "BF16"
            ? Float32Array.from(new Uint16Array(bytes), (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0])
            : null;
    if (data) out.set(name, { shape: info.shape, data });
  }
  return out;
}
