import type { CallExpr, Expr, Loc } from "../../dsl/ast.ts";
import type { Layout, LayoutPiece, PositionScheme, PromptRules } from "../../core/layout.ts";
import { describe, type Value } from "./values.ts";

type Report = (loc: Loc, message: string) => void;

/**
 * The `layout` section's calls, checked: `token(text[, id])`, `image(piece...)`, `video(piece...)`
 * (pieces as `toPiece` takes them), and `positions("sequential" | "mrope", ...)`.
 */
export function toLayout(steps: readonly CallExpr[], evaluate: (e: Expr) => Value, report: Report): Layout | null {
  const layout: Layout = { tokens: [], image: [], video: null, positions: { kind: "sequential" } };
  let failed = false;
  const fail = (loc: Loc, message: string): void => {
    failed = true;
    report(loc, message);
  };
  const declared = (text: string): boolean => layout.tokens.some((t) => t.text === text);

  for (const step of steps) {
    const named = step.args.filter((a) => a.name !== null);
    if (step.callee === "prompt") {
      const rules = toPromptRules(step, evaluate, fail, declared);
      if (rules) layout.prompt = rules;
      continue;
    }
    if (named.length > 0) {
      fail(named[0].loc, `layout: ${step.callee}() takes no named arguments`);
      continue;
    }
    const args = step.args.map((a) => a.value);
    switch (step.callee) {
      case "token": {
        const text = evaluate(args[0] ?? step);
        const id = args[1] ? evaluate(args[1]) : undefined;
        if (text.t !== "string") fail(step.loc, `layout: token() takes the token's text first, got ${describe(text)}`);
        else if (id !== undefined && !(id.t === "int" && typeof id.v === "number" && id.v >= 0))
          fail(step.loc, `layout: the id of token "${text.v}" must be a non-negative int, got ${describe(id)}`);
        else if (declared(text.v)) fail(step.loc, `layout: token "${text.v}" is declared twice`);
        else layout.tokens.push({ text: text.v, id: id?.t === "int" && typeof id.v === "number" ? id.v : null });
        break;
      }
      case "image":
      case "video": {
        const pieces = toPieces(args, { evaluate, fail, declared, where: `${step.callee}()`, inGrid: false });
        if (!pieces.some(hasSpan))
          fail(step.loc, `layout: ${step.callee}() needs a span(text, count) for the rows the ${step.callee} fills`);
        if (step.callee === "image") layout.image = pieces;
        else layout.video = pieces;
        break;
      }
      case "positions": {
        const scheme = toPositions(args.map(evaluate));
        if (typeof scheme === "string") fail(step.loc, `layout: ${scheme}`);
        else layout.positions = scheme;
        break;
      }
      default:
        fail(step.loc, `layout: unknown entry '${step.callee}' (expected token, image, video, positions or prompt)`);
    }
  }
  if (layout.image.length === 0 && !failed)
    fail(
      steps[0]?.loc ?? { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } },
      "layout: no image(...) expansion",
    );
  return failed ? null : layout;
}

interface PieceContext {
  evaluate: (e: Expr) => Value;
  fail: Report;
  declared: (text: string) => boolean;
  where: string;
  inGrid: boolean;
}

const hasSpan = (p: LayoutPiece): boolean =>
  p.kind === "span" ||
  (p.kind === "grid" && [...p.cell, ...p.rowEnd, ...p.after].some(hasSpan)) ||
  (p.kind === "when" && p.pieces.some(hasSpan));

function toPieces(exprs: readonly Expr[], cx: PieceContext): LayoutPiece[] {
  return exprs.flatMap((e) => toPiece(e, cx) ?? []);
}

/** A token text, `span(text, count)`, `text("...")`, `grid(rows, cols, [cell], [row end], [after])` or `when(count, [pieces])`. */
function toPiece(e: Expr, cx: PieceContext): LayoutPiece | null {
  const { evaluate, fail } = cx;
  if (e.kind === "call" && e.callee === "span") {
    const [text, count] = e.args.map((a) => evaluate(a.value));
    if (text?.t !== "string" || count?.t !== "int") {
      fail(e.loc, "layout: span() takes a token text and an int count");
      return null;
    }
    if (!cx.declared(text.v)) fail(e.loc, `layout: "${text.v}" is not declared; add token("${text.v}", id) before ${cx.where}`);
    return { kind: "span", text: text.v, count: count.v };
  }
  if (e.kind === "call" && e.callee === "text") {
    const literal = e.args[0]?.value;
    if (e.args.length !== 1 || literal?.kind !== "string") {
      fail(e.loc, 'layout: text() takes one string literal (text("\\n"))');
      return null;
    }
    const names = [...literal.value.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
    const bad = names.find((n) => !cx.inGrid || (n !== "row" && n !== "col"));
    if (bad !== undefined) {
      fail(literal.loc, `layout: text() may name only {row} and {col}, inside a grid's cell, got {${bad}}`);
      return null;
    }
    return { kind: "text", text: literal.value };
  }
  if (e.kind === "call" && e.callee === "grid") {
    const [rows, cols] = e.args.slice(0, 2).map((a) => evaluate(a.value));
    const lists = e.args.slice(2).map((a) => a.value);
    if (rows?.t !== "int" || cols?.t !== "int" || lists.length < 1 || lists.length > 3 || lists.some((l) => l.kind !== "list")) {
      fail(e.loc, "layout: grid() takes rows, columns, then lists of pieces: each cell's, after each row's, and after the rows'");
      return null;
    }
    const [cell, rowEnd = [], after = []] = lists.map((l) =>
      toPieces((l as Extract<Expr, { kind: "list" }>).items, { ...cx, inGrid: true, where: cx.where }),
    );
    return { kind: "grid", rows: rows.v, cols: cols.v, cell, rowEnd, after };
  }
  if (e.kind === "call" && e.callee === "when") {
    const count = e.args[0] ? evaluate(e.args[0].value) : undefined;
    const list = e.args[1]?.value;
    if (count?.t !== "int" || list?.kind !== "list" || e.args.length !== 2) {
      fail(e.loc, "layout: when() takes a count and a list of pieces placed once when the count is above 0");
      return null;
    }
    return { kind: "when", count: count.v, pieces: toPieces(list.items, cx) };
  }
  const v = evaluate(e);
  if (v.t === "string") {
    if (!cx.declared(v.v))
      fail(e.loc, `layout: "${v.v}" is not declared; add token("${v.v}", id) before ${cx.where}, or write text("${v.v}")`);
    return { kind: "token", text: v.v };
  }
  fail(e.loc, `layout: a piece is a token text, span(text, count), text("..."), grid(...) or when(...), got ${describe(v)}`);
  return null;
}

/** `prompt(images_first = true, after_items = "<bos>", end = "\n", special_tokens = false)`, every argument named. */
function toPromptRules(
  step: CallExpr,
  evaluate: (e: Expr) => Value,
  fail: Report,
  declared: (text: string) => boolean,
): PromptRules | null {
  const rules: PromptRules = { imagesFirst: false, afterItems: null, end: "", specialTokens: true };
  let ok = true;
  for (const a of step.args) {
    const v = evaluate(a.value);
    const bad = (what: string): void => {
      ok = false;
      fail(a.loc, `layout: prompt() ${a.name ?? "argument"} must be ${what}, got ${describe(v)}`);
    };
    if (a.name === "images_first" || a.name === "special_tokens") {
      if (v.t !== "bool") bad("a bool");
      else if (a.name === "images_first") rules.imagesFirst = v.v;
      else rules.specialTokens = v.v;
    } else if (a.name === "after_items") {
      if (v.t !== "string") bad("a declared token's text");
      else if (!declared(v.v)) {
        ok = false;
        fail(a.loc, `layout: "${v.v}" is not declared; add token("${v.v}", id) before prompt()`);
      } else rules.afterItems = v.v;
    } else if (a.name === "end") {
      if (v.t !== "string") bad("a string");
      else rules.end = v.v;
    } else {
      ok = false;
      fail(a.loc, "layout: prompt() takes named arguments images_first, after_items, end and special_tokens");
    }
  }
  return ok ? rules : null;
}

function toPositions(args: Value[]): PositionScheme | string {
  const [kind, merge, tps] = args;
  if (kind?.t !== "string") return `positions() takes "sequential" or "mrope" first`;
  if (kind.v === "sequential") return { kind: "sequential" };
  if (kind.v !== "mrope") return `unknown position scheme "${kind.v}" (expected "sequential" or "mrope")`;
  if (merge?.t !== "int" || typeof merge.v !== "number" || merge.v < 1)
    return `positions("mrope", merge[, tokens_per_second]) needs the spatial merge size as a positive int`;
  if (tps !== undefined && tps.t !== "int" && tps.t !== "float" && tps.t !== "none") return "tokens_per_second must be a number";
  const tokensPerSecond = tps?.t === "int" && typeof tps.v === "number" ? tps.v : tps?.t === "float" ? tps.v : null;
  return { kind: "mrope", merge: merge.v, tokensPerSecond };
}
