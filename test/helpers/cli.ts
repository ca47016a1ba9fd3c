import { execFile } from "node:child_process";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `tesserae` command in a child process, as a user would: the build the global set-up made. */
export function tesserae(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["dist/bin/main.js", ...args], { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
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
