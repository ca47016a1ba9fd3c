import type { Node, OpKind } from "../../core/graph.ts";

/**
 * What fusion may do with an op (after TVM's op patterns): buffers and constants are read where they
 * are used, views fold into the loads of their consumer, elementwise math joins any kernel it feeds,
 * reductions make row kernels or statistics of a matmul's rows, contractions and attention are a
 * kernel's core, and opaque ops are kernels of their own.
 */
export type FusionClass = "buffer" | "constant" | "view" | "elementwise" | "reduction" | "contraction" | "attention" | "opaque";

// A Record over every op kind: a new op does not compile until it is given a class.
const CLASS_OF: Record<OpKind, FusionClass> = {
  input: "buffer",
  param: "buffer",
  const: "constant",
  unary: "elementwise",
  binary: "elementwise",
  reduce: "reduction",
  matmul: "contraction",
  attention: "attention",
  reshape: "view",
  permute: "view",
  slice: "view",
  concat: "view",
  broadcast: "view",
  gather: "view",
  pad: "view",
  im2col: "view",
  contiguous: "opaque",
  resize2d: "opaque",
};

export function fusionClass(n: Node): FusionClass {
  return CLASS_OF[n.op.kind];
}
