#!/usr/bin/env node
// `npm test` after set-up and lint: the type check (`tsc --noEmit`, about 8 s on one core) beside vitest
// instead of before it, where the other core sat idle for those seconds. Arguments go to vitest. Fails when
// either fails; tsc's report is printed once vitest is done, so the two outputs do not interleave.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const resolve = createRequire(import.meta.url).resolve;

/** Runs a Node script to its end: its exit code and, when `quiet`, what it printed. */
function run(script, args, quiet) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit" });
    let text = "";
    child.stdout?.on("data", (d) => (text += d));
    child.stderr?.on("data", (d) => (text += d));
    child.on("close", (code, signal) => done({ code: code ?? (signal ? 1 : 0), text }));
  });
}

const [types, tests] = await Promise.all([
  run(resolve("typescript/bin/tsc"), ["--noEmit", "-p", "."], true),
  run(join(root, "node_modules", "vitest", "vitest.mjs"), ["run", ...process.argv.slice(2)], false),
]);
if (types.code !== 0) process.stderr.write(`\ntsc --noEmit -p . failed:\n${types.text}\n`);
process.exit(types.code !== 0 ? types.code : tests.code);
