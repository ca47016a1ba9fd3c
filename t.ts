import { compileFile } from "./compiler/frontend.ts";
import { compileProgram } from "./compiler/compile.ts";
const p = compileFile(process.argv[2], { overrides: { layers: "1" } });
const plan = compileProgram(p);
for (const k of plan.kernels) console.log(k.name, k.nodes.map(n => { const o = plan.graph.nodes[n].op; return o.kind === "unary" || o.kind === "binary" ? o.fn : o.kind; }).join(" "));
