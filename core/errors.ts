/**
 * The errors Tesserae reports about what it was given. Each names what is wrong and where (a graph
 * file's line and column, a tensor and its file, an image's path); anything else thrown is a bug.
 */
export class TesseraeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An input or weight that does not fit what the graph declares. */
export class InputError extends TesseraeError {}

/** A checkpoint or safetensors file that is missing, malformed, or does not fit the graph. */
export class WeightsError extends TesseraeError {}

/** Bad options or arguments from the caller (an unknown graph, a flag without its value). */
export class UsageError extends TesseraeError {}

/** No WebGPU adapter could be had: the message says what to install. */
export class NoAdapterError extends TesseraeError {}
