import type { CallExpr, Expr, Loc } from "../../dsl/ast.ts";
import type { Layout, LayoutPiece, PositionScheme } from "../../core/layout.ts";
import { describe, type Value } from "./values.ts";

type Report = (loc: Loc, message: string) => void;

/**
 * The `layout` section's calls, checked: `token(text[, id])`, `image(piece...)`, `video(piece...)`
 * where a piece is a token text or `span(text, count)`, and `positions("sequential" | "mrope", ...)`.
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
        const pieces: LayoutPiece[] = [];
        for (const a of args) {
          const piece = toPiece(a, evaluate, fail);
          if (!piece) continue;
          if (!declared(piece.text))
            fail(a.loc, `layout: "${piece.text}" is not declared; add token("${piece.text}", id) before ${step.callee}()`);
          pieces.push(piece);
        }
        const spans = pieces.filter((p) => p.kind === "span").length;
        if (spans !== 1)
          fail(
            step.loc,
            `layout: ${step.callee}() needs exactly one span(text, count) for the rows the ${step.callee} fills, got ${spans}`,
          );
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
        fail(step.loc, `layout: unknown entry '${step.callee}' (expected token, image, video or positions)`);
    }
  }
  if (layout.image.length === 0 && !failed)
    fail(
      steps[0]?.loc ?? { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } },
      "layout: no image(...) expansion",
    );
  return failed ? null : layout;
}

function toPiece(e: Expr, evaluate: (e: Expr) => Value, fail: Report): LayoutPiece | null {
  if (e.kind === "call" && e.callee === "span") {
    const [text, count] = e.args.map((a) => evaluate(a.value));
    if (text?.t !== "string" || count?.t !== "int") {
      fail(e.loc, "layout: span() takes a token text and an int count");
      return null;
    }
    return { kind: "span", text: text.v, count: count.v };
  }
  const v = evaluate(e);
  if (v.t === "string") return { kind: "token", text: v.v };
  fail(e.loc, `layout: a piece is a token text or span(text, count), got ${describe(v)}`);
  return null;
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
