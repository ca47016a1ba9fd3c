import type { ExplainedKernel, ExplainReport } from "./report.ts";

/** `matmul add mul sigmoid mul` -> `matmul, add, mul x2, sigmoid`. */
export function summarizeOps(ops: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const o of ops) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].map(([o, n]) => (n > 1 ? `${o} x${n}` : o)).join(", ");
}

/** Wide enough for the longest tiling name (`blocked 64t 16x3x4 element shuffle-a`). */
const TILING_WIDTH = 36;

const giga = (x: number): string => (x / 1e9).toFixed(3);
const mega = (x: number): string => (x / 2 ** 20).toFixed(2);

/** `view-on-load: %40 permute, %42 reshape; epilogue: %44 add`: the members of a kernel by the rule that joined them. */
function joinedByRule(joined: NonNullable<ExplainedKernel["fusion"]>["joined"]): string {
  const byRule = new Map<string, string[]>();
  for (const j of joined) byRule.set(j.rule, [...(byRule.get(j.rule) ?? []), `%${j.node} ${j.op}`]);
  return [...byRule].map(([rule, ops]) => `${rule}: ${ops.join(", ")}`).join("; ");
}

/** `why`: under each kernel, why its root is written to memory and which rule joined each other op. */
export function formatText(r: ExplainReport, why = false): string {
  const dims =
    Object.entries(r.dims)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ") || "none";
  const lines = [
    `${r.graph} (${r.file}): ${r.totals.kernels} kernels, ${r.totals.pipelines} distinct pipelines${r.fused ? "" : ", unfused"}; ` +
      `${giga(r.totals.flops)} GFLOP, ${mega(r.totals.bytes)} MiB moved (at ${dims})`,
    "",
    `${"#".padStart(4)}  ${"kernel".padEnd(16)} ${"GFLOP".padStart(8)} ${"MiB".padStart(8)} ${"threads".padStart(7)} ${"wg KiB".padStart(6)} ${"out/inv".padStart(7)}  ${"tiling".padEnd(TILING_WIDTH)}  ops  [source lines]`,
  ];
  for (const k of r.kernels) {
    const shape = `${String(k.workgroupSize).padStart(7)} ${(k.workgroupMemoryBytes / 1024).toFixed(1).padStart(6)} ${k.outputsPerInvocation.toFixed(2).padStart(7)}`;
    lines.push(
      `${String(k.index).padStart(4)}  ${k.name.padEnd(16)} ${giga(k.flops).padStart(8)} ${mega(k.bytes).padStart(8)} ${shape}  ${(k.tiling ?? "-").padEnd(TILING_WIDTH)}  ${summarizeOps(k.ops)}  [${k.source.join(", ")}]`,
    );
    if (why && k.fusion) {
      lines.push(`        written: %${k.writes.node} ${k.ops.at(-1) ?? ""}, ${k.fusion.apart}`);
      if (k.fusion.joined.length > 0) lines.push(`        joined by ${joinedByRule(k.fusion.joined)}`);
    }
  }
  if (r.prepared) {
    const p = r.prepared;
    lines.push("", `weights derived once, at load time (${p.tensors.length} tensors, ${p.kernels} kernels, ${giga(p.flops)} GFLOP):`);
    for (const t of p.tensors)
      lines.push(`      ${t.name.padEnd(14)} ${t.shape.padEnd(14)} ${summarizeOps(t.ops)}  [${t.source.join(", ")}]`);
  }
  return `${lines.join("\n")}\n`;
}
