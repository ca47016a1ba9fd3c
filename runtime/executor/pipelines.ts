import { checked } from "../gpu-context.ts";

// Pipelines are keyed by WGSL text: dims are uniforms, so every layer of a model shares its pipelines.
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** An explicit layout: `layout: "auto"` would drop bindings a kernel happens not to use (e.g. all-constant dims). */
function layoutFor(device: GPUDevice, reads: number, checksRange: boolean): GPUPipelineLayout {
  const entries: GPUBindGroupLayoutEntry[] = [];
  for (let i = 0; i < reads; i++) entries.push({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" } });
  entries.push({ binding: reads, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } });
  entries.push({ binding: reads + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } });
  // The f16 overflow flag, after the uniforms.
  if (checksRange) entries.push({ binding: reads + 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } });
  return device.createPipelineLayout({ bindGroupLayouts: [device.createBindGroupLayout({ entries })] });
}

export async function pipelineFor(
  device: GPUDevice,
  wgsl: string,
  label: string,
  reads: number,
  checksRange = false,
): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(device, cache);
  }
  let p = cache.get(wgsl);
  if (!p) {
    p = (async () => {
      const module = device.createShaderModule({ code: wgsl, label });
      const info = await module.getCompilationInfo();
      if (info.messages.length > 0) {
        const text = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`).join("\n");
        throw new Error(`generated WGSL for ${label} did not pass Dawn's validation cleanly:\n${text}\n--- WGSL ---\n${wgsl}`);
      }
      return checked(device, `pipeline creation for ${label}`, () =>
        device.createComputePipelineAsync({
          layout: layoutFor(device, reads, checksRange),
          compute: { module, entryPoint: "main" },
          label,
        }),
      );
    })();
    cache.set(wgsl, p);
    p.catch(() => cache?.delete(wgsl));
  }
  return p;
}
