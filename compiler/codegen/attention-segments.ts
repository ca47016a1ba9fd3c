import type { KernelWriter, Code } from "./writer.ts";

/**
 * The [start, end) of the segment (image, window) that holds token `t`: the whole key range without
 * segments. Segments are contiguous and in order (`segId` holds their boundaries), so a tile of
 * queries sees keys from its first query's segment start to its last query's segment end.
 */
export function segmentOf(w: KernelWriter, segId: number | undefined, t: Code, keys: Code): { start: Code; end: Code } {
  const [start, end] = [w.fresh("segStart"), w.fresh("segEnd")];
  w.line(`var ${start} = 0u;`);
  w.line(`var ${end} = ${keys};`);
  if (segId !== undefined) {
    const seg = w.buffer(segId);
    w.block(`for (var i = 0u; i + 1u < ${w.dim(w.node(segId).shape[0])}; i = i + 1u) {`, () => {
      w.line(`if (${t} >= u32(${seg}[i]) && ${t} < u32(${seg}[i + 1u])) { ${start} = u32(${seg}[i]); ${end} = u32(${seg}[i + 1u]); }`);
    });
  }
  return { start, end };
}
