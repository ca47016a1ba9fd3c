#!/usr/bin/env node
// Set-up that `npm run demo` and `npm test` run first: Node dependencies (npm ci when the lock file
// changed or node_modules is missing) and, on Debian as root, the Vulkan driver Dawn needs.
// Quick when everything is already in place. Imports nothing outside Node itself.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (m) => process.stderr.write(`setup: ${m}\n`);

function nodeModulesFresh() {
  const installed = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(installed)) return false;
  try {
    const want = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages ?? {};
    const have = JSON.parse(readFileSync(installed, "utf8")).packages ?? {};
    return Object.entries(want).every(([path, p]) => path === "" || p.optional || have[path]?.version === p.version);
  } catch {
    return statSync(installed).mtimeMs >= statSync(join(root, "package-lock.json")).mtimeMs;
  }
}

if (!nodeModulesFresh()) {
  say("installing Node dependencies (npm ci)");
  // onnxruntime-node (under transformers.js, a test oracle) would otherwise try to download CUDA parts.
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" },
  });
}

if (process.platform === "linux" && existsSync("/etc/debian_version")) {
  try {
    execFileSync("bash", [join(root, "scripts", "setup-system.sh")], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  } catch {
    say("could not install the Vulkan driver; Tesserae will say what is missing when it looks for a GPU adapter");
  }
}
