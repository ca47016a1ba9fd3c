import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WeightsError } from "../../core/errors.ts";
import { SafetensorsFile } from "../../runtime/weights/safetensors.ts";
import { rng } from "../../runtime/weights/random.ts";
import { reliable } from "../helpers/reliability.ts";

// Byte-level mutations of a real checkpoint (header and data): opening and reading every tensor must
// succeed or fail with a WeightsError naming the file, never anything else. Seeded and bounded.
describe("fuzzing the safetensors reader", () => {
  it("mutated files give a WeightsError naming the file, or read cleanly", () => {
    const original = readFileSync("test/fixtures/vit/model.safetensors");
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    const dir = mkdtempSync(join(tmpdir(), "tesserae-fuzz-"));
    const rand = rng(99);
    const outcomes = { ok: 0, rejected: 0 };
    for (let i = 0; i < 400; i++) {
      const bytes = Buffer.from(original);
      const kind = rand();
      if (kind < 0.5) {
        // Flip bytes inside the header (JSON, offsets, dtypes, shapes).
        for (let e = 0; e < 1 + Math.floor(rand() * 4); e++) bytes[8 + Math.floor(rand() * (headerEnd - 8))] = Math.floor(rand() * 256);
      } else if (kind < 0.7) {
        bytes.writeBigUInt64LE(BigInt(Math.floor(rand() * 2 ** 40)), 0);
      } else if (kind < 0.9) {
        bytes[Math.floor(rand() * 8)] = Math.floor(rand() * 256);
      }
      const cut = kind >= 0.9 ? Math.floor(rand() * bytes.length) : bytes.length;
      const path = join(dir, `case-${i}.safetensors`);
      writeFileSync(path, bytes.subarray(0, cut));
      try {
        const f = SafetensorsFile.open(path);
        for (const name of f.tensors.keys()) {
          const info = f.tensors.get(name);
          if (info && (info.dtype === "F32" || info.dtype === "F16" || info.dtype === "BF16")) f.read(name);
        }
        f.close();
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof WeightsError)) throw new Error(`case ${i} (${path}): ${String(e)}`);
        expect(e.message).toContain(path);
        outcomes.rejected++;
      }
    }
    expect(outcomes.rejected).toBeGreaterThan(100);
    reliable({
      area: "checkpoints",
      case: "seeded byte mutations of a safetensors file (header bytes, header length, truncation)",
      tried: 400,
      outcome: `${outcomes.ok} read cleanly; ${outcomes.rejected} refused with a WeightsError naming the file; nothing else thrown`,
    });
  });
});
