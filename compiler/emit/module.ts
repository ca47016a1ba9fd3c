import { IndentationText, Project, QuoteKind, StructureKind, VariableDeclarationKind, type OptionalKind, type PropertySignatureStructure } from "ts-morph";
import { dimToString, type Dim } from "../ir/dims.ts";
import type { PlanFile } from "../plan/serialize.ts";

/** `vit` -> `Vit`, `qwen2_5_vl` -> `Qwen25Vl`: a type-name prefix. */
function typeName(model: string): string {
  return model.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join("") || "Graph";
}

const shapeText = (shape: readonly Dim[]): string => `[${shape.map(dimToString).join(", ")}]`;
/** A shape as a TypeScript literal: numbers stay numbers, symbolic dims become their formula as a string. */
const shapeLiteral = (shape: readonly Dim[]): string => `[${shape.map((d) => (typeof d === "number" ? String(d) : JSON.stringify(dimToString(d)))).join(", ")}]`;

/**
 * The TypeScript module `tesserae compile` writes next to plan.json: `load(device, weights)` returning a
 * model whose `run(inputs)` takes and gives the graph's own inputs and outputs by name, typed, with their
 * symbolic shapes as documentation and as `inputShapes` / `outputShapes` constants. It imports the
 * runtime only (through `runtimeImport`, a path or package specifier ending in the runtime folder).
 */
export function emitModule(file: PlanFile, runtimeImport: string): string {
  const project = new Project({ useInMemoryFileSystem: true, manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Double } });
  const src = project.createSourceFile("model.ts");
  const name = typeName(file.model);
  const computed = new Map(file.program.providers.map((p) => [p.input, p.provider.kind]));

  src.addImportDeclaration({ moduleSpecifier: "node:url", namedImports: ["fileURLToPath"] });
  src.addImportDeclaration({ moduleSpecifier: `${runtimeImport}/artifact.ts`, namedImports: ["loadCompiled", "outputOf", "readArtifact"] });
  src.addImportDeclaration({ moduleSpecifier: `${runtimeImport}/tensor.ts`, isTypeOnly: true, namedImports: ["HostTensor"] });

  const inputProps: OptionalKind<PropertySignatureStructure>[] = file.inputs.map((i) => ({
    name: i.name,
    type: "HostTensor",
    docs: [`${i.dtype}${shapeText(i.shape)}${computed.has(i.name) ? ` — computed by the runtime (${computed.get(i.name)}) from the images' preprocessing` : ""}`],
  }));
  src.addInterface({ name: `${name}Inputs`, isExported: true, docs: [`Inputs of ${file.model}; symbolic dims (${file.program.symbols.join(", ") || "none"}) are bound from their shapes.`], properties: inputProps });
  src.addInterface({
    name: `${name}Outputs`,
    isExported: true,
    docs: [`Outputs of ${file.model}.`],
    properties: file.outputs.map((o) => ({ name: o.name, type: "HostTensor", docs: [shapeText(o.shape)] })),
  });
  src.addInterface({
    name: `${name}Model`,
    isExported: true,
    docs: [`${file.model} loaded on a device with its weights.`],
    methods: [
      { name: "run", parameters: [{ name: "inputs", type: `${name}Inputs` }], returnType: `Promise<${name}Outputs>` },
      { name: "dispose", returnType: "void" },
    ],
    properties: [{ name: "adapter", type: "string", isReadonly: true }],
  });
  for (const [constName, list] of [["inputShapes", file.inputs], ["outputShapes", file.outputs]] as const) {
    src.addVariableStatement({
      kind: StructureKind.VariableStatement,
      isExported: true,
      declarationKind: VariableDeclarationKind.Const,
      declarations: [{ name: constName, initializer: `{ ${list.map((t) => `${JSON.stringify(t.name)}: ${shapeLiteral(t.shape)}`).join(", ")} } as const` }],
    });
  }
  src.addVariableStatement({ declarationKind: VariableDeclarationKind.Let, declarations: [{ name: "current", type: `${name}Model | undefined` }] });
  src.addFunction({
    name: "load",
    isExported: true,
    isAsync: true,
    docs: ["Loads the compiled graph in this folder. `weights`: a Hugging Face checkpoint folder, or tensors by name; `device`: yours, or the process-wide one."],
    parameters: [
      { name: "device", type: "GPUDevice | undefined" },
      { name: "weights", type: "string | ReadonlyMap<string, HostTensor>" },
    ],
    returnType: `Promise<${name}Model>`,
    statements: (writer) => {
      writer.writeLine(`const model = await loadCompiled(readArtifact(fileURLToPath(new URL(".", import.meta.url))), weights, device);`);
      writer.write("current = ").inlineBlock(() => {
        writer.writeLine("adapter: model.adapter,");
        writer.write(`async run(inputs: ${name}Inputs): Promise<${name}Outputs> `).inlineBlock(() => {
          writer.writeLine(`const out = await model.run({ ${file.inputs.map((i) => `${JSON.stringify(i.name)}: inputs.${i.name}`).join(", ")} });`);
          writer.writeLine(`return { ${file.outputs.map((o) => `${o.name}: outputOf(out, ${JSON.stringify(o.name)})`).join(", ")} };`);
        });
        writer.write(",").newLine();
        writer.writeLine("dispose: () => model.dispose(),");
      });
      writer.write(";").newLine();
      writer.writeLine("return current;");
    },
  });
  src.addFunction({
    name: "run",
    isExported: true,
    docs: ["Runs the model `load` loaded last (the returned model's own `run` serves several loaded at once)."],
    parameters: [{ name: "inputs", type: `${name}Inputs` }],
    returnType: `Promise<${name}Outputs>`,
    statements: [`if (!current) throw new Error("${file.model}: call load(device, weights) before run(inputs)");`, "return current.run(inputs);"],
  });
  src.formatText({ indentSize: 2 });
  src.insertStatements(0, `// Generated by \`tesserae compile\` from ${file.source} (model ${file.model}). Do not edit: compile again instead.`);
  return src.getFullText();
}
