/** The graphs the demo page offers: tiny test checkpoints (real preprocessing and layouts, random weights). */
export interface Demo {
  name: string;
  title: string;
  graph: string;
  weights: string;
}

export const DEMOS: readonly Demo[] = [
  {
    name: "qwen2-vl",
    title: "Qwen2-VL (tiny checkpoint): smart_resize, 2x2 merge windows, M-RoPE layout",
    graph: "graphs/qwen2-vl.tsr",
    weights: "test/fixtures/qwen2-vl",
  },
  {
    name: "deepseek-vl2",
    title: "DeepSeek-VL2 (tiny checkpoint, 42 px tiles): global view and local tiles",
    graph: "graphs/deepseek-vl2.tsr",
    weights: "test/fixtures/deepseek-vl2",
  },
  {
    name: "llava-next",
    title: "LLaVA-NeXT (tiny checkpoint, 30 px tiles): anyres base view and tiles",
    graph: "graphs/llava-next.tsr",
    weights: "test/fixtures/llava-next",
  },
  { name: "vit", title: "ViT (tiny checkpoint): 36x36, 6 px patches", graph: "graphs/vit.tsr", weights: "test/fixtures/vit" },
];
