import type { KernelTarget } from "../../compiler/codegen/tiling.ts";
import { compileProgram } from "../../compiler/compile.ts";
import { formatDot } from "../../compiler/explain/dot.ts";
import { formatHtml } from "../../compiler/explain/html.ts";
import { explainPlan } from "../../compiler/explain/report.ts";
import { formatText } from "../../compiler/explain/text.ts";
import { UsageError } from "../../core/errors.ts";
import { one, parseArgs } from "../args.ts";
import { compileFromArgs, MODEL_FLAGS, requireGraph } from "../load.ts";

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
  const plan = compileProgram(program, { fuse: fused, target: explainTarget(one(args, "target") ?? process.env.TESSERAE_TARGET) });
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
  process.stdout.write(text);
  return 0;
}

/**
 * The plan explain shows: `gpu` or `cpu` gives that class's defaults for an adapter of unknown features
 * (no subgroups); `auto` (the default) the portable plan, since explain opens no device.
 */
function explainTarget(choice: string | undefined): KernelTarget | undefined {
  if (choice === undefined || choice === "auto") return undefined;
  if (choice !== "cpu" && choice !== "gpu") throw new UsageError(`--target must be cpu, gpu or auto, got '${choice}'`);
  return { features: [], subgroupMinSize: 0, targetClass: choice };
}
