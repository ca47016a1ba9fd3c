import { F32_LOWEST, type Code, type KernelWriter } from "./writer.ts";

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

/**
 * One step of the online softmax for query `lid.x` of the tile, over a block of `keys` scores read and
 * written through `prob`: the block's maximum, the rescale of the blocks before (into `rescale`), the
 * probabilities (0 for masked keys, which hold F32_LOWEST) and the running sum.
 */
export function onlineSoftmaxStep(w: KernelWriter, keys: number, prob: (key: Code) => Code): void {
  w.line(`var blockMax = ${F32_LOWEST};`);
  w.block(`for (var j = 0u; j < ${keys}u; j = j + 1u) {`, () => w.line(`blockMax = max(blockMax, ${prob("j")});`));
  w.line("let newMax = max(runMax[lid.x], blockMax);");
  w.line("var sum = 0.0;");
  w.block(`for (var j = 0u; j < ${keys}u; j = j + 1u) {`, () => {
    w.line(`let score = ${prob("j")};`);
    w.line("let p = select(0.0, exp(score - newMax), score > -3.0e38);");
    w.line(`${prob("j")} = p;`);
    w.line("sum = sum + p;");
  });
  w.line("let correction = exp(runMax[lid.x] - newMax);");
  w.line("rescale[lid.x] = correction;");
  w.line("runSum[lid.x] = runSum[lid.x] * correction + sum;");
  w.line("runMax[lid.x] = newMax;");
}
