import type { Arg, BlockDecl, BranchDecl, CallExpr, Expr, InputDecl, Loc, ModelDecl, SourceFile, Stmt } from "../../dsl/ast.ts";
import type { Diagnostic } from "../../dsl/diagnostics.ts";
import { GraphBuilder, ShapeError } from "../ir/builder.ts";
import { sym, type Dim } from "../../core/dims.ts";
import type { InputProvider, PreprocessStep } from "../../core/preprocess.ts";
import { LAYOUT_SYMBOLS, type Layout } from "../../core/layout.ts";
import { toLayout } from "./layout.ts";
import { applyBinary, applyUnaryMinus } from "./arithmetic.ts";
import { BUILTINS, type BuiltinContext } from "./builtins.ts";
import { resolveConfig, type ConfigSources } from "./config.ts";
import { toInputProvider, toPreprocessStep } from "./preprocess.ts";
import { ERROR, NONE, describe, toPlain, type Value } from "./values.ts";
import type { PlainValue, Program } from "../../core/program.ts";
import { nameMaps, type NameMap } from "../../core/weight-names.ts";

export interface ElaborateOptions extends ConfigSources {
  /** Whether the checkpoint has a tensor; without a checkpoint every declared parameter exists. */
  hasWeight?: (name: string) => boolean;
}

export type ElaborateResult = { ok: true; program: Program; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(readonly parent: Scope | null) {}
  get(name: string): Value | undefined {
    return this.vars.get(name) ?? this.parent?.get(name);
  }
  set(name: string, v: Value): void {
    this.vars.set(name, v);
  }
}

interface Frame {
  file: string;
  scope: Scope;
}
interface InputState {
  symbols: string[];
  symbolScope: Scope;
  providers: { input: string; provider: InputProvider }[];
}
const RETURNED = Symbol("returned");
type ExecResult = Value | typeof RETURNED | undefined;

/** Bounds on what one graph file may unroll to, so a typo in a count is an error, not an exhausted memory. */
const MAX_REPEAT = 4096;

/** Turns a parsed model into a graph: inlines blocks, unrolls `repeat`, binds config values and tensor names. */
export class Elaborator {
  readonly diagnostics: Diagnostic[] = [];
  readonly builder: GraphBuilder;
  private readonly blocks = new Map<string, BlockDecl>();
  private readonly callStack: { file: string; loc: Loc }[] = [];
  private returnValue: Value = NONE;
  private depth = 0;
  private prefixes: string[] = [""];
  private readonly reported = new Set<string>();
  private readonly renames: [string, string][] = [];

  constructor(
    private readonly model: ModelDecl,
    private readonly file: string,
    prelude: SourceFile[],
    private readonly options: ElaborateOptions,
  ) {
    this.builder = new GraphBuilder(model.name);
    for (const f of prelude) for (const item of f.items) if (item.kind === "block") this.blocks.set(item.name, item);
  }

  error(file: string, loc: Loc, message: string): Value {
    // A block called many times (every layer) reports a mistake in its body once.
    const key = `${file}:${loc.start.line}:${loc.start.column}:${message}`;
    if (!this.reported.has(key)) this.diagnostics.push({ severity: "error", message, file, loc });
    this.reported.add(key);
    return ERROR;
  }

  run(topLevelBlocks: BlockDecl[]): Program | null {
    for (const b of topLevelBlocks) this.blocks.set(b.name, b);
    for (const item of this.model.items) if (item.kind === "block") this.blocks.set(item.name, item);

    const globals = new Scope(null);
    const config = resolveConfig(
      this.model,
      this.file,
      this.options,
      (loc, msg) => this.error(this.file, loc, msg),
      (e, scope) => this.evalExpr(e, { file: this.file, scope: scope as Scope }),
      () => new Scope(globals),
    );
    for (const [name, v] of config.values) globals.set(name, v);
    const frame: Frame = { file: this.file, scope: new Scope(globals) };

    const inputs: InputState = { symbols: [], symbolScope: new Scope(frame.scope), providers: [] };
    const preprocess: PreprocessStep[] = [];
    let layout: Layout | null = null;
    for (const item of this.model.items) {
      if (item.kind === "layout") layout = this.layoutOf(item.steps, frame);
      if (item.kind === "weights") this.prefixes = item.prefixes.length > 0 ? item.prefixes : [""];
      if (item.kind === "rename") this.renames.push([item.from, item.to]);
      if (item.kind === "preprocess") preprocess.push(...this.preprocessSteps(item.steps, frame));
      if (item.kind === "input") this.declareInput(item, frame, inputs);
    }
    const { symbols, providers } = inputs;
    const body = this.model.items.filter((i): i is Stmt => ["assign", "repeat", "if", "return", "output"].includes(i.kind));
    this.execBlock(body, frame);
    if (this.builder.graph.outputs.length === 0 && this.diagnostics.length === 0)
      this.error(this.file, this.model.loc, `model '${this.model.name}' declares no output`);
    if (this.diagnostics.some((d) => d.severity === "error")) return null;
    const plainConfig: Record<string, PlainValue> = {};
    for (const [k, v] of config.values) plainConfig[k] = toPlain(v);
    return {
      name: this.model.name,
      graph: this.builder.graph,
      config: plainConfig,
      presets: config.presets,
      preprocess,
      prefixes: this.prefixes,
      renames: this.renames,
      symbols,
      providers,
      layout,
    };
  }

  /** The layout section, with the per-item symbols (grid_t, tiles_w, ...) bound as symbolic ints. */
  private layoutOf(steps: CallExpr[], frame: Frame): Layout | null {
    const scope = new Scope(frame.scope);
    for (const name of LAYOUT_SYMBOLS) scope.set(name, { t: "int", v: sym(name) });
    return toLayout(
      steps,
      (e) => this.evalExpr(e, { file: frame.file, scope }),
      (loc, message) => this.error(this.file, loc, message),
    );
  }

  private preprocessSteps(steps: readonly (CallExpr | BranchDecl)[], frame: Frame): PreprocessStep[] {
    const out: PreprocessStep[] = [];
    for (const step of steps) {
      if (step.kind === "branch") {
        if (this.holds(step.when, frame)) out.push({ op: "branch", input: step.input, steps: this.preprocessSteps(step.steps, frame) });
        continue;
      }
      const args = this.evalArgs(step.args, frame);
      // `when = flag` on any step: the processor's do_resize / do_center_crop / ... switches.
      const when = args.named.get("when");
      args.named.delete("when");
      if (when !== undefined && when.t !== "bool") {
        if (when.t !== "error") this.error(this.file, step.loc, `'when' must be a bool, got ${describe(when)}`);
        continue;
      }
      const made = toPreprocessStep(step.callee, args.positional, args.named);
      if (typeof made === "string") this.error(this.file, step.loc, made);
      else if (when === undefined || when.v) out.push(made);
    }
    return out;
  }

  private storedNames(): NameMap[] {
    return nameMaps({ prefixes: this.prefixes, renames: this.renames });
  }

  /** A `when` condition of a declaration: absent holds; anything but a bool is an error (and does not hold). */
  private holds(cond: Expr | null, frame: Frame): boolean {
    if (cond === null) return true;
    const v = this.evalExpr(cond, frame);
    if (v.t === "bool") return v.v;
    if (v.t !== "error") this.error(this.file, cond.loc, `'when' must be a bool, got ${describe(v)}`);
    return false;
  }

  private declareInput(item: InputDecl, frame: Frame, state: InputState): void {
    if (!this.holds(item.when, frame)) return;
    const dims: Dim[] = [];
    for (const d of item.dims) {
      // Names that are not config values are new symbolic dims, bound from the inputs at run time.
      for (const name of identsOf(d)) {
        if (frame.scope.get(name) !== undefined) continue;
        if (!state.symbols.includes(name)) state.symbols.push(name);
        state.symbolScope.set(name, { t: "int", v: sym(name) });
      }
      const v = this.evalExpr(d, { file: frame.file, scope: state.symbolScope });
      if (v.t === "int") dims.push(v.v);
      else if (v.t !== "error") this.error(this.file, d.loc, `input dimension must be an int or a new symbol, got ${describe(v)}`);
    }
    if (item.dtype !== "f32" && item.dtype !== "i32")
      this.error(this.file, item.loc, `input dtype ${item.dtype} is not supported; use f32 (values) or i32 (indices)`);
    frame.scope.set(item.name, { t: "tensor", id: this.builder.input(item.name, dims, item.dtype === "i32" ? "i32" : "f32") });
    if (item.provider) {
      const args = this.evalArgs(item.provider.args, frame);
      const made = toInputProvider(item.provider.callee, args.positional, args.named);
      if (typeof made === "string") this.error(this.file, item.provider.loc, made);
      else state.providers.push({ input: item.name, provider: made });
    }
  }

  private execBlock(stmts: Stmt[], frame: Frame): ExecResult {
    for (const s of stmts) {
      const r = this.execStmt(s, frame);
      if (r === RETURNED) return r;
    }
    return undefined;
  }

  private execStmt(s: Stmt, frame: Frame): ExecResult {
    switch (s.kind) {
      case "assign":
        frame.scope.set(s.name, this.evalExpr(s.value, frame));
        return undefined;
      case "output": {
        // `output "hidden_{i}" = ...` names one output per loop step.
        const named = s.name.includes("{") ? this.interpolate(s.name, s.loc, frame) : { t: "string" as const, v: s.name };
        if (named.t !== "string") return undefined;
        if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(named.v)) {
          this.error(frame.file, s.loc, `output name '${named.v}' must be letters, digits, '_' and '.'`);
          return undefined;
        }
        const v = this.evalExpr(s.value, frame);
        if (v.t === "tensor") this.withSource(frame.file, s.loc, () => this.builder.output(named.v, v.id));
        else if (v.t !== "error") this.error(frame.file, s.value.loc, `output '${named.v}' must be a tensor, got ${describe(v)}`);
        return undefined;
      }
      case "return":
        this.returnValue = this.evalExpr(s.value, frame);
        return RETURNED;
      case "if": {
        const c = this.evalExpr(s.cond, frame);
        if (c.t === "error") return undefined;
        if (c.t !== "bool") {
          this.error(frame.file, s.cond.loc, `condition must be a bool, got ${describe(c)}`);
          return undefined;
        }
        return this.execBlock(c.v ? s.then : s.otherwise, frame);
      }
      case "repeat": {
        const n = this.evalExpr(s.count, frame);
        if (n.t === "error") return undefined;
        if (n.t !== "int" || typeof n.v !== "number" || n.v < 0) {
          this.error(frame.file, s.count.loc, `repeat count must be a non-negative fixed int, got ${describe(n)}`);
          return undefined;
        }
        if (n.v > MAX_REPEAT) {
          this.error(frame.file, s.count.loc, `repeat count ${n.v} is more than ${MAX_REPEAT} (no model has that many layers)`);
          return undefined;
        }
        for (let i = 0; i < n.v; i++) {
          frame.scope.set(s.name, { t: "int", v: i });
          if (this.execBlock(s.body, frame) === RETURNED) return RETURNED;
        }
        return undefined;
      }
    }
  }

  private withSource<T>(file: string, loc: Loc, fn: () => T): T | Value {
    const saved = this.builder.source;
    this.builder.source = [...this.callStack, { file, loc }].map((c) => ({
      file: c.file,
      line: c.loc.start.line,
      column: c.loc.start.column,
    }));
    try {
      return fn();
    } catch (e) {
      if (e instanceof ShapeError) return this.error(file, loc, e.message);
      throw e;
    } finally {
      this.builder.source = saved;
    }
  }

  evalExpr(e: Expr, frame: Frame): Value {
    switch (e.kind) {
      case "number":
        return e.isInt ? { t: "int", v: e.value } : { t: "float", v: e.value };
      case "bool":
        return { t: "bool", v: e.value };
      case "none":
        return NONE;
      case "string":
        return this.interpolate(e.value, e.loc, frame);
      case "list":
        return { t: "list", items: e.items.map((i) => this.evalExpr(i, frame)) };
      case "ident": {
        const v = frame.scope.get(e.name);
        return v ?? this.error(frame.file, e.loc, `unknown name '${e.name}'`);
      }
      case "unary": {
        const v = this.evalExpr(e.operand, frame);
        return this.withSource(frame.file, e.loc, () => applyUnaryMinus(this.builder, v)) as Value;
      }
      case "binary": {
        const a = this.evalExpr(e.left, frame);
        const b = this.evalExpr(e.right, frame);
        return this.withSource(frame.file, e.loc, () => applyBinary(this.builder, e.op, a, b)) as Value;
      }
      case "call":
        return this.evalCall(e.callee, e.args, e.loc, frame);
    }
  }

  /** `"visual.blocks.{i}.norm1"`: each `{name}` is replaced by that variable's value. */
  private interpolate(text: string, loc: Loc, frame: Frame): Value {
    let failed = false;
    const out = text.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = frame.scope.get(name);
      if (v === undefined) {
        this.error(frame.file, loc, `unknown name '${name}' in string interpolation`);
        failed = true;
        return "";
      }
      const p = toPlain(v);
      if (p === null || Array.isArray(p)) {
        if (v.t !== "error") this.error(frame.file, loc, `'${name}' (${describe(v)}) cannot be interpolated into a string`);
        failed = true;
        return "";
      }
      return String(p);
    });
    return failed ? ERROR : { t: "string", v: out };
  }

  private evalArgs(args: Arg[], frame: Frame): { positional: Value[]; named: Map<string, Value> } {
    const positional: Value[] = [];
    const named = new Map<string, Value>();
    for (const a of args) {
      const v = this.evalExpr(a.value, frame);
      if (a.name === null) positional.push(v);
      else named.set(a.name, v);
    }
    return { positional, named };
  }

  private evalCall(callee: string, args: Arg[], loc: Loc, frame: Frame): Value {
    const { positional, named } = this.evalArgs(args, frame);
    const block = this.blocks.get(callee);
    if (block) return this.callBlock(block, positional, named, loc, frame);
    const builtin = BUILTINS.get(callee);
    if (!builtin) return this.error(frame.file, loc, `unknown block or function '${callee}'`);
    if ([...positional, ...named.values()].some(containsError)) return ERROR;
    const has = this.options.hasWeight;
    const ctx: BuiltinContext = {
      builder: this.builder,
      hasWeight: (n) => (has ? this.storedNames().some((stored) => has(stored(n))) : true),
    };
    return this.withSource(frame.file, loc, () => builtin(ctx, positional, named)) as Value;
  }

  private callBlock(block: BlockDecl, positional: Value[], named: Map<string, Value>, loc: Loc, caller: Frame): Value {
    if (this.depth > 64) return this.error(caller.file, loc, `block '${block.name}' recurses too deeply`);
    const scope = new Scope(null);
    if (positional.length > block.params.length)
      return this.error(caller.file, loc, `block '${block.name}' takes ${block.params.length} arguments, got ${positional.length}`);
    for (const name of named.keys()) {
      if (!block.params.some((p) => p.name === name))
        return this.error(caller.file, loc, `block '${block.name}' has no parameter '${name}'`);
    }
    const frame: Frame = { file: block.file, scope };
    for (const [i, p] of block.params.entries()) {
      let v = i < positional.length ? positional[i] : named.get(p.name);
      if (i < positional.length && named.has(p.name))
        return this.error(caller.file, loc, `parameter '${p.name}' of '${block.name}' is given twice`);
      if (v === undefined) {
        if (p.default === null) return this.error(caller.file, loc, `block '${block.name}' needs argument '${p.name}'`);
        v = this.evalExpr(p.default, frame);
      }
      if (p.type !== null && v.t !== "error" && !matchesType(v, p.type)) {
        return this.error(caller.file, loc, `argument '${p.name}' of '${block.name}' must be ${p.type}, got ${describe(v)}`);
      }
      scope.set(p.name, p.type === "float" && v.t === "int" && typeof v.v === "number" ? { t: "float", v: v.v } : v);
    }
    this.callStack.push({ file: caller.file, loc });
    this.depth++;
    this.returnValue = NONE;
    const r = this.execBlock(block.body, frame);
    this.depth--;
    this.callStack.pop();
    return r === RETURNED ? this.returnValue : NONE;
  }
}

function identsOf(e: Expr): string[] {
  switch (e.kind) {
    case "ident":
      return [e.name];
    case "binary":
      return [...identsOf(e.left), ...identsOf(e.right)];
    case "unary":
      return identsOf(e.operand);
    default:
      return [];
  }
}

function containsError(v: Value): boolean {
  return v.t === "error" || (v.t === "list" && v.items.some(containsError));
}

function matchesType(v: Value, type: string): boolean {
  if (type === "tensor") return v.t === "tensor";
  if (type === "float") return v.t === "float" || (v.t === "int" && typeof v.v === "number");
  return v.t === type;
}

export function elaborate(model: ModelDecl, file: SourceFile, prelude: SourceFile[], options: ElaborateOptions): ElaborateResult {
  const e = new Elaborator(model, file.path, prelude, options);
  const blocks = file.items.filter((i): i is BlockDecl => i.kind === "block");
  const program = e.run(blocks);
  return program ? { ok: true, program, diagnostics: e.diagnostics } : { ok: false, diagnostics: e.diagnostics };
}
