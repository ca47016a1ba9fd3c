export interface Position {
  offset: number;
  line: number;
  column: number;
}
export interface Loc {
  start: Position;
  end: Position;
}

export type Expr =
  | { kind: "number"; value: number; isInt: boolean; loc: Loc }
  | { kind: "string"; value: string; loc: Loc }
  | { kind: "bool"; value: boolean; loc: Loc }
  | { kind: "none"; loc: Loc }
  | { kind: "ident"; name: string; loc: Loc }
  | { kind: "list"; items: Expr[]; loc: Loc }
  | { kind: "call"; callee: string; args: Arg[]; loc: Loc }
  | { kind: "binary"; op: BinaryOp; left: Expr; right: Expr; loc: Loc }
  | { kind: "unary"; op: "-"; operand: Expr; loc: Loc };

export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "==" | "!=" | "<" | "<=" | ">" | ">=";
export interface Arg {
  name: string | null;
  value: Expr;
  loc: Loc;
}
export type CallExpr = Extract<Expr, { kind: "call" }>;

export type Stmt =
  | { kind: "assign"; name: string; value: Expr; loc: Loc }
  | { kind: "repeat"; count: Expr; name: string; body: Stmt[]; loc: Loc }
  | { kind: "if"; cond: Expr; then: Stmt[]; otherwise: Stmt[]; loc: Loc }
  | { kind: "return"; value: Expr; loc: Loc }
  | { kind: "output"; name: string; value: Expr; loc: Loc };

export type ValueType = "int" | "float" | "bool" | "string" | "list";
export type ParamType = ValueType | "tensor";

export interface ConfigEntry {
  name: string;
  type: ValueType;
  value: Expr;
  from: string[];
  loc: Loc;
}
export interface PresetEntry {
  name: string;
  value: Expr;
  loc: Loc;
}
export interface BlockParam {
  name: string;
  type: ParamType | null;
  default: Expr | null;
  loc: Loc;
}

export interface BlockDecl {
  kind: "block";
  name: string;
  params: BlockParam[];
  body: Stmt[];
  loc: Loc;
  file: string;
}
export interface ConfigDecl {
  kind: "config";
  entries: ConfigEntry[];
  loc: Loc;
}
export interface PresetDecl {
  kind: "preset";
  name: string;
  entries: PresetEntry[];
  loc: Loc;
}
export interface PreprocessDecl {
  kind: "preprocess";
  steps: (CallExpr | BranchDecl)[];
  loc: Loc;
}
/** `branch NAME when cond { steps }`: graph input NAME made from a copy of the image at this point. */
export interface BranchDecl {
  kind: "branch";
  input: string;
  when: Expr | null;
  steps: CallExpr[];
  loc: Loc;
}
/** The token layout: `token(...)`, `image(...)`, `video(...)`, `positions(...)` calls. */
export interface LayoutDecl {
  kind: "layout";
  steps: CallExpr[];
  loc: Loc;
}
/** A graph input; with a provider (`= image_segments()`), the runtime computes it from the preprocessed images. */
export interface InputDecl {
  kind: "input";
  name: string;
  dtype: "f32" | "f16" | "i32" | "u8";
  dims: Expr[];
  provider: CallExpr | null;
  /** Declared only where this holds (a layout with a second image tensor). */
  when: Expr | null;
  loc: Loc;
}
export interface WeightsDecl {
  kind: "weights";
  prefixes: string[];
  loc: Loc;
}
/** `weights rename "a." to "b."`: a checkpoint may store the names starting with `a.` as starting with `b.`. */
export interface RenameDecl {
  kind: "rename";
  from: string;
  to: string;
  loc: Loc;
}

export type ModelItem = ConfigDecl | PresetDecl | PreprocessDecl | LayoutDecl | InputDecl | WeightsDecl | RenameDecl | BlockDecl | Stmt;

export interface ModelDecl {
  kind: "model";
  name: string;
  items: ModelItem[];
  loc: Loc;
}
export interface SourceFile {
  kind: "file";
  path: string;
  text: string;
  items: (ModelDecl | BlockDecl)[];
}
