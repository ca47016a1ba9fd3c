/**
 * Contractions up to this K may be inlined as dot-product loops (a loop is slower per FLOP than a tiled
 * kernel: on lavapipe a patch embedding of K = 768 inlined into its consumer ran at 0.9 GFLOP/s against
 * ~9 in a matmul kernel of its own, ViT-B/16 warm 5.0 s -> 4.5 s); rows up to this length are staged
 * in workgroup memory.
 */
export const INLINE_MAX_K = 64;
export const STAGE_MAX_ROW = 6144;

/**
 * At most this many rows concatenated in front of a matmul's result join its epilogue (a class token,
 * registers): the invocations of the matmul's first row compute them, one row after another.
 */
export const PREFIX_MAX_ROWS = 16;
