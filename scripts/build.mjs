#!/usr/bin/env node
// The package build (`npm run build`, and `npm pack` through prepack): tsc compiles the library, the
// runtime and the CLI into dist/ (ESM JavaScript with declarations, `.ts` imports rewritten to `.js`),
// and the files they read at run time are copied beside them: the grammar, the prelude, the ONNX
// schema and the bundled graphs; the parser is generated from the grammar here, not at every start.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import peggy from "peggy";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
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
process.stderr.write(`build: dist/ written\n`);
