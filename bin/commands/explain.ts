import { offlineTarget } from "../../compiler/codegen/tiling.ts";
import { compileProgram } from "../../compiler/compile.ts";
import { formatDot } from "../../compiler/explain/dot.ts";
import { formatHtml } from "../../compiler/explain/html.ts";
import { explainPlan } from "../../compiler/explain/report.ts";
import { formatText } from "../../compiler/explain/text.ts";
import { UsageError } from "../../core/errors.ts";
import { one, parseArgs } from "../args.ts";
import { compileFromArgs, MODEL_FLAGS, classOf, requireGraph, targetFlag } from "../load.ts";
import { io } from "../io.ts";

const FORMATS = ["text", "json", "dot", "html"];

/** `tesserae explain`: the kernels in order, what each fuses, where it came from, its FLOPs and bytes. */
export async function explainCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: [...MODEL_FLAGS, "format", "batch", "target"], repeatable: ["set"], switches: ["no-fuse", "why"] },
    "explain",
  );
  const graphPath = requireGraph(args, "explain");
  const format = one(args, "format") ?? "text";
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got '${format}'`);
  const batch = Number(one(args, "batch") ?? "1");
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch must be a positive integer`);
  const { program } = compileFromArgs(graphPath, args);
  const fused = !args.switches.has("no-fuse");
  const plan = compileProgram(program, { fuse: fused, target: offlineTarget(classOf(targetFlag(args))) });
  const env = Object.fromEntries(program.symbols.map((s) => [s, batch]));
  const report = explainPlan(plan, graphPath, env, fused);
  const text =
    format === "json"
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === "dot"
        ? formatDot(plan)
        : format === "html"
          ? formatHtml(report)
          : formatText(report, args.switches.has("why"));
  io().out.write(text);
  return 0;
}
