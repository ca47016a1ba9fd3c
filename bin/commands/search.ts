import { search } from "../../api/dataset/search.ts";
import { UsageError } from "../../core/errors.ts";
import { intFlag, one, parseArgs } from "../args.ts";
import { warn } from "../load.ts";
import { io } from "../io.ts";

/** `tesserae search DB (--text "..." | --image PATH | --like ID) [-k N] [--json]`: the nearest rows, as a table or JSON. */
export async function searchCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv.map((a) => (a === "-k" ? "--k" : a)),
    { values: ["text", "image", "like", "k", "weights"], switches: ["json"] },
    "search",
  );
  if (args.positional.length !== 1)
    throw new UsageError('usage: tesserae search DB (--text "..." | --image PATH | --like ID) [-k N] [--json]');
  const result = await search({
    db: args.positional[0],
    text: one(args, "text"),
    image: one(args, "image"),
    like: one(args, "like"),
    k: intFlag(args, "k", 10),
    weights: one(args, "weights"),
    onWarning: warn,
  });
  const out = io().out;
  if (args.switches.has("json")) {
    out.write(`${JSON.stringify({ query: result.query, model: result.meta.model, hits: result.hits }, null, 2)}\n`);
    return 0;
  }
  const idWidth = Math.min(40, Math.max(2, ...result.hits.map((h) => h.id.length)));
  out.write(`${"rank".padStart(4)}  ${"score".padStart(8)}  ${"id".padEnd(idWidth)}  path\n`);
  result.hits.forEach((h, i) => {
    const id = h.id.length > idWidth ? `${h.id.slice(0, idWidth - 1)}…` : h.id.padEnd(idWidth);
    out.write(`${String(i + 1).padStart(4)}  ${h.score.toFixed(6).padStart(8)}  ${id}  ${h.path}\n`);
  });
  return 0;
}
