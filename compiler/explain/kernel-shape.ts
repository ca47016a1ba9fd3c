/** Bytes per element of the types generated kernels keep in workgroup memory. */
const TYPE_BYTES: Record<string, number> = { f32: 4, u32: 4, i32: 4, f16: 2, "vec2<u32>": 8, "vec4<f32>": 16, "atomic<u32>": 4 };

/** A kernel's invocations per workgroup and workgroup memory, read from its WGSL (what the driver is given). */
export function kernelShape(wgsl: string): { workgroupSize: number; workgroupMemoryBytes: number } {
  const size = /@workgroup_size\((\d+)(?:,\s*(\d+))?(?:,\s*(\d+))?\)/.exec(wgsl);
  const workgroupSize = size ? size.slice(1).reduce((a, d) => a * (d ? Number(d) : 1), 1) : 0;
  let workgroupMemoryBytes = 0;
  for (const m of wgsl.matchAll(/var<workgroup>\s+\w+\s*:\s*(?:array<(.+), (\d+)>|([\w<>]+));/g)) {
    const [type, count] = m[1] !== undefined ? [m[1], Number(m[2])] : [m[3], 1];
    const bytes = TYPE_BYTES[type];
    if (bytes === undefined) throw new Error(`internal: unknown workgroup type '${type}'`);
    workgroupMemoryBytes += bytes * count;
  }
  return { workgroupSize, workgroupMemoryBytes };
}
