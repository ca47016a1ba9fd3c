import type { Graph } from "./graph.ts";
import type { Layout } from "./layout.ts";
import type { InputProvider, PreprocessStep } from "./preprocess.ts";

/** A config value as plain data (what config.json and plan.json hold). */
export type PlainValue = number | string | boolean | null | PlainValue[];

/** An elaborated graph file: the graph IR with its config, preprocessing, computed inputs and token layout. */
export interface Program {
  name: string;
  graph: Graph;
  config: Record<string, PlainValue>;
  presets: string[];
  preprocess: PreprocessStep[];
  prefixes: string[];
  /** Starts of tensor names a checkpoint may have replaced (`weights rename "a." to "b."`). */
  renames: [string, string][];
  /** Symbolic dimensions of the inputs, bound at run time (e.g. the batch size B). */
  symbols: string[];
  /** Inputs the runtime computes from the preprocessed images (segments, rotary tables). */
  providers: { input: string; provider: InputProvider }[];
  /** The token layout, when the graph file declares one. */
  layout: Layout | null;
}
