import { execFile } from "node:child_process";
import { main } from "../../bin/cli.ts";
import type { TextSink } from "../../bin/io.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Commands that leave the process as they found it (no signal handlers, worker threads or peers' runtimes).
const IN_PROCESS = new Set(["run", "check", "ir", "explain", "layout", "score", "compile"]);

/**
 * `tesserae ARGS` as a user types it: main() in this process, with what it writes collected (a child
 * process costs about a second of CPU each: Node, Dawn and the compiler's first, unoptimised, run),
 * for the commands that leave the process as they found it; the others in a child process.
 */
export async function tesserae(...args: string[]): Promise<CliResult> {
  if (!IN_PROCESS.has(args[0])) return tesseraeProcess(...args);
  const collect = (): TextSink & { text: string } => ({
    text: "",
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  });
  const [out, err] = [collect(), collect()];
  const code = await main(args, { out, err });
  return { code, stdout: out.text, stderr: err.text };
}

/** The real `tesserae` command in a child process: the build the global set-up made, its exit code. */
export function tesseraeProcess(...args: string[]): Promise<CliResult> {
  return tesseraeUnder([], ...args);
}

/** `tesserae` with flags for Node itself (V8 options, which NODE_OPTIONS does not take). */
export function tesseraeUnder(nodeFlags: readonly string[], ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeFlags, "dist/bin/main.js", ...args], { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err && typeof err.code === "number" ? err.code : err ? 1 : 0;
      resolve({
        code,
        stdout,
        stderr: stderr
          .split("\n")
          .filter((l) => !l.includes("artificially reduced"))
          .join("\n"),
      });
    });
  });
}
