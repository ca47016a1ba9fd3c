#!/usr/bin/env node
// The package build (`npm run build`, and `npm pack` through prepack): tsc compiles the library, the
// runtime and the CLI into dist/ (ESM JavaScript with declarations, `.ts` imports rewritten to `.js`),
// and the files they read at run time are copied beside them: the grammar, the prelude, the ONNX
// schema and the bundled graphs; the parser is generated from the grammar here, not at every start.
// With --if-changed (the test suite's global set-up) it does nothing when dist/ was built from the same
// inputs: a digest of every file the build reads, kept in node_modules/.cache (not in dist/, which is packed).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import peggy from "peggy";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const SOURCES = ["api", "core", "dsl", "compiler", "runtime", "tune", "bin", "graphs"];
const CONFIG = ["tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json", "scripts/build.mjs"];

function inputsDigest() {
  const hash = createHash("sha256");
  const files = SOURCES.flatMap((dir) => readdirSync(join(root, dir), { recursive: true }).map((f) => join(dir, String(f))));
  for (const file of [...files.sort(), ...CONFIG]) {
    const path = join(root, file);
    try {
      hash.update(`${file}\0`).update(readFileSync(path)).update("\0");
    } catch (e) {
      if (e.code !== "EISDIR") throw e;
    }
  }
  return hash.digest("hex");
}

const stamp = join(root, "node_modules", ".cache", "tesserae-build-inputs");
const digest = inputsDigest();
if (
  process.argv.includes("--if-changed") &&
  existsSync(join(dist, "bin", "main.js")) &&
  existsSync(stamp) &&
  readFileSync(stamp, "utf8") === digest
) {
  process.stderr.write("build: dist/ is up to date\n");
  process.exit(0);
}
rmSync(stamp, { force: true });
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
for (const file of ["dsl/grammar.peggy", "dsl/prelude.tsr", "compiler/emit/onnx.proto"]) cpSync(join(root, file), join(dist, file));
const grammar = readFileSync(join(root, "dsl", "grammar.peggy"), "utf8");
writeFileSync(join(dist, "dsl", "grammar.cjs"), peggy.generate(grammar, { output: "source", format: "commonjs" }));
mkdirSync(join(dist, "graphs"), { recursive: true });
for (const g of readdirSync(join(root, "graphs")).filter((f) => f.endsWith(".tsr")))
  cpSync(join(root, "graphs", g), join(dist, "graphs", g));
chmodSync(join(dist, "bin", "main.js"), 0o755);
mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, digest);
process.stderr.write(`build: dist/ written\n`);
