import { shapeToString } from "../../core/dims.ts";
import type { Graph } from "../../core/graph.ts";
import type { Plan } from "../../core/plan.ts";
import { opName } from "./report.ts";

const COLORS: Record<string, string> = { matmul: "#dbeafe", attention: "#fde68a", row: "#dcfce7", pointwise: "#f3e8ff" };

const quote = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** Graphviz: every primitive a node, every kernel a cluster, weights and inputs as boxes outside. */
export function formatDot(plan: Plan): string {
  const g: Graph = plan.graph;
  const out = [
    `digraph ${quote(g.name)} {`,
    '  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor=white, fontsize=10]; edge [color="#888888"];',
  ];
  const inKernel = new Set<number>();
  plan.kernels.forEach((k, i) => {
    out.push(`  subgraph cluster_${i} {`, `    label=${quote(`${k.name}`)}; style=filled; color=${quote(COLORS[k.kind] ?? "#eeeeee")};`);
    for (const id of k.nodes) {
      inKernel.add(id);
      const n = g.nodes[id];
      const src = n.source[0] ? `${n.source[0].file}:${n.source[0].line}` : "";
      out.push(`    n${id} [label=${quote(`${opName(n)} ${shapeToString(n.shape)}`)}${src ? `, tooltip=${quote(src)}` : ""}];`);
    }
    out.push("  }");
  });
  for (const n of g.nodes) {
    if (inKernel.has(n.id)) continue;
    if (n.op.kind === "param" || n.op.kind === "input")
      out.push(
        `  n${n.id} [label=${quote(`${n.op.name}\\n${shapeToString(n.shape)}`)}, shape=note, fillcolor=${n.op.kind === "input" ? '"#fee2e2"' : '"#f5f5f5"'}];`,
      );
    else if (n.op.kind === "const") out.push(`  n${n.id} [label=${quote(String(n.op.value))}, shape=plaintext];`);
  }
  for (const n of g.nodes) for (const i of n.inputs) out.push(`  n${i} -> n${n.id};`);
  for (const o of g.outputs)
    out.push(`  out_${o.name} [label=${quote(o.name)}, shape=oval, fillcolor="#fecaca"];`, `  n${o.node} -> out_${o.name};`);
  out.push("}");
  return `${out.join("\n")}\n`;
}
