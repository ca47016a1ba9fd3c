import { compileFile } from "./compiler/frontend.ts";
import { printGraph } from "./compiler/ir/printer.ts";
import { DiagnosticError } from "./dsl/diagnostics.ts";
for (const f of ["graphs/clip.tsr", "graphs/vit.tsr"]) {
try { const p = compileFile(f, {}); console.log(printGraph(p.graph).split("\n").slice(0, 40).join("\n")); console.log(p.graph.nodes.length, p.preprocess, p.config); }
catch (e) { if (e instanceof DiagnosticError) console.log(e.message); else throw e; }
}
