import { AsyncLocalStorage } from "node:async_hooks";

/** Text output: a process stream, or whatever a caller of main() collects it in. */
export interface TextSink {
  write(text: string): unknown;
  /** A terminal: progress is redrawn in place. */
  readonly isTTY?: boolean;
}

/** Where a command writes its results (out) and its reports, progress and warnings (err). */
export interface Io {
  out: TextSink;
  err: TextSink;
}

const PROCESS_IO: Io = { out: process.stdout, err: process.stderr };
const current = new AsyncLocalStorage<Io>();

/**
 * The streams of the command running in this async context: main() runs each command with its own,
 * so commands run at once in one process (the tests', through the library) keep their output apart.
 */
export function io(): Io {
  return current.getStore() ?? PROCESS_IO;
}

export function withIo<T>(streams: Io, run: () => Promise<T>): Promise<T> {
  return current.run(streams, run);
}
