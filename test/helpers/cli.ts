import { execFile } from "node:child_process";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `tesserae` command in a child process, as a user would: the build the global set-up made. */
export function tesserae(...args: string[]): Promise<CliResult> {
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
