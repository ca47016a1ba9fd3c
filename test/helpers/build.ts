// Vitest's global set-up: the package build (dist/), once per run, and not at all when dist/ was built
// from the same sources (scripts/build.mjs --if-changed). The CLI tests run the built command, as an
// installed package does (through tsx every start costs about 0.8 s more), and the packaging test packs it.
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  // Every project of the config (vitest.config.ts) runs its global set-up in this one process: build once.
  if (process.env.TESSERAE_TEST_BUILT === "1") return;
  const root = resolve(import.meta.dirname, "..", "..");
  execFileSync(process.execPath, [resolve(root, "scripts", "build.mjs"), "--if-changed"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  process.env.TESSERAE_TEST_BUILT = "1";
}
