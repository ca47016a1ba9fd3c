import { dimToString } from "../../core/dims.ts";
import { attentionKernel } from "../codegen/attention.ts";
import { stagedAttentionKernel } from "../codegen/attention-staged.ts";
import {
  attentionCandidates,
  DEFAULT_ATTENTION,
  defaultAttentionTiling,
  type AnyAttentionTiling,
  type KernelTiling,
} from "../codegen/tiling.ts";
import type { KernelModule } from "./kernel.ts";

/**
 * softmax(q k^T) v per head with online softmax (codegen/attention.ts; on GPUs attention-staged.ts). Tuned under its batch, queries,
 * keys, width and heads, and whether segments, a causal mask or relative positions limit the keys.
 */
export const attention: KernelModule<AnyAttentionTiling> = {
  kind: "attention",
  generate(w, chosen) {
    const tiling = chosen ?? DEFAULT_ATTENTION;
    return tiling.strategy === "staged" ? stagedAttentionKernel(w, tiling) : attentionKernel(w, tiling);
  },
  tuning: {
    shapeKey(g, group) {
      const core = group.core === null ? null : g.nodes[group.core];
      if (core?.op.kind !== "attention") return null;
      const [b, t, d] = core.shape.map(dimToString);
      const s = dimToString(g.nodes[core.inputs[1]].shape[1]);
      const limits = [core.op.segmented ? " segmented" : "", core.op.causal ? " causal" : "", core.op.relative ? " relative" : ""].join("");
      return `${b}x${t}x${s}x${d}/${core.op.heads}${limits}`;
    },
    candidates: attentionCandidates,
    defaultFor: defaultAttentionTiling,
    accepts: (t: KernelTiling): t is AnyAttentionTiling => t.strategy === "flash" || t.strategy === "staged",
  },
};
