import { dimToString } from "../../core/dims.ts";
import { matmulKernel } from "../codegen/matmul.ts";
import { DEFAULT_TILING, defaultMatmulTiling, matmulCandidates, type KernelTiling, type MatmulTiling } from "../codegen/tiling.ts";
import { transposedWeightOf } from "../codegen/weight-layout.ts";
import type { KernelModule } from "./kernel.ts";

/**
 * A contraction with its prologue and epilogue (codegen/matmul.ts). Tuned where its weights are stored
 * [K, N] with N a multiple of 4 (either strategy can run), under its batch, M, K and N.
 */
export const matmul: KernelModule<MatmulTiling> = {
  kind: "matmul",
  generate: (w, tiling) => matmulKernel(w, tiling ?? DEFAULT_TILING),
  tuning: {
    shapeKey(g, group) {
      const core = group.core === null ? null : g.nodes[group.core];
      if (core?.op.kind !== "matmul" || transposedWeightOf(g, core) === null) return null;
      const a = g.nodes[core.inputs[0]];
      const dims = [...core.shape.slice(0, -1), a.shape[a.shape.length - 1], core.shape[core.shape.length - 1]];
      return dims.map(dimToString).join("x");
    },
    candidates: matmulCandidates,
    defaultFor: defaultMatmulTiling,
    accepts: (t: KernelTiling): t is MatmulTiling => t.strategy === "tiled" || t.strategy === "blocked" || t.strategy === "split-k",
  },
};
