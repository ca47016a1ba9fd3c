/// <reference types="@webgpu/types" />
// `tesserae`: the library API for Node. Compile a graph, load it on a device with weights, run it on
// images or pixel values; the CLI is built on exactly these calls. Browsers use `tesserae/runtime`.
export { compile, type Compiled, type CompileOptions, type ConfigValue, type GraphDiagnostic } from "./compile.ts";
export { load, type LoadOptions } from "./load.ts";
export { layout } from "./layout.ts";
export { writeArtifact, type Written, type WriteOptions } from "./artifact.ts";
export { bundledGraphPath, bundledGraphs, type GraphSpec } from "./graphs.ts";
export * from "./dataset/index.ts";
export { DiagnosticError, type Diagnostic } from "../dsl/diagnostics.ts";
export * from "../runtime/node.ts";
