import type { ConfigEntry, Expr, Loc, ModelDecl, ValueType } from "../../dsl/ast.ts";
import { describe, fromPlain, type Value } from "./values.ts";

export interface ConfigSources {
  /** A named preset of the model file (`--preset NAME`). */
  preset?: string;
  /** The checkpoint's parsed config.json. */
  checkpointConfig?: unknown;
  /** The checkpoint's parsed preprocessor_config.json (a `from "preprocessor_config.json:size.height"` source). */
  preprocessorConfig?: unknown;
  /** `--set key=value` pairs, applied last. */
  overrides?: Record<string, string>;
}

function lookupPath(json: unknown, path: string): unknown {
  let cur: unknown = json;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null || !(part in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** `"vision_config.hidden_size"` reads config.json; `"preprocessor_config.json:crop_size.height"` names the file. */
function lookupSource(sources: ConfigSources, spec: string): { raw: unknown; where: string } {
  const m = /^([\w.-]+\.json):(.+)$/.exec(spec);
  const file = m ? m[1] : "config.json";
  const path = m ? m[2] : spec;
  const json =
    file === "config.json" ? sources.checkpointConfig : file === "preprocessor_config.json" ? sources.preprocessorConfig : undefined;
  const raw = json === undefined ? undefined : lookupPath(json, path);
  // An object where a value was expected (e.g. size: {"shortest_edge": 224}) means: try the next source.
  return { raw: typeof raw === "object" && raw !== null && !Array.isArray(raw) ? undefined : raw, where: `${file} '${path}'` };
}

function coerce(v: Value, type: ValueType): Value | null {
  if (v.t === type) return v;
  if (type === "float" && v.t === "int" && typeof v.v === "number") return { t: "float", v: v.v };
  if (type === "int" && v.t === "float" && Number.isInteger(v.v)) return { t: "int", v: v.v };
  return null;
}

function parseOverride(text: string, type: ValueType): Value | null {
  switch (type) {
    case "int":
      return /^-?[0-9]+$/.test(text) ? { t: "int", v: Number(text) } : null;
    case "float":
      return text.trim() !== "" && Number.isFinite(Number(text)) ? { t: "float", v: Number(text) } : null;
    case "bool":
      return text === "true" ? { t: "bool", v: true } : text === "false" ? { t: "bool", v: false } : null;
    case "string":
      return { t: "string", v: text };
    case "list": {
      try {
        const v = fromPlain(JSON.parse(text));
        return v && v.t === "list" ? v : null;
      } catch {
        return null;
      }
    }
  }
}

/**
 * Config values in order of precedence: default < preset < checkpoint config.json < --set.
 * Defaults and presets are expressions, so a value may depend on the ones before it.
 */
export function resolveConfig(
  model: ModelDecl,
  file: string,
  sources: ConfigSources,
  report: (loc: Loc, message: string) => void,
  evaluate: (e: Expr, scope: unknown) => Value,
  newScope: () => { set(name: string, v: Value): void },
): { values: Map<string, Value>; presets: string[] } {
  const entries: ConfigEntry[] = model.items.flatMap((i) => (i.kind === "config" ? i.entries : []));
  const presets = model.items.flatMap((i) => (i.kind === "preset" ? [i] : []));
  const preset = sources.preset === undefined ? undefined : presets.find((p) => p.name === sources.preset);
  if (sources.preset !== undefined && !preset) {
    report(
      model.loc,
      `model '${model.name}' has no preset '${sources.preset}' (presets: ${presets.map((p) => p.name).join(", ") || "none"})`,
    );
  }
  for (const key of Object.keys(sources.overrides ?? {})) {
    if (!entries.some((e) => e.name === key))
      report(
        model.loc,
        `config override '${key}': model '${model.name}' has no config value '${key}' (it has ${entries.map((e) => e.name).join(", ")})`,
      );
  }
  for (const p of preset ? [preset] : []) {
    for (const pe of p.entries)
      if (!entries.some((e) => e.name === pe.name))
        report(pe.loc, `preset '${p.name}' sets '${pe.name}', which is not in the config block`);
  }
  const scope = newScope();
  const values = new Map<string, Value>();
  for (const entry of entries) {
    let v: Value | null = null;
    const override = sources.overrides?.[entry.name];
    if (override !== undefined) {
      v = parseOverride(override, entry.type);
      if (!v) report(entry.loc, `config override ${entry.name}=${override}: expected ${entry.type}`);
    }
    if (!v) {
      for (const spec of entry.from) {
        const { raw, where } = lookupSource(sources, spec);
        if (raw === undefined) continue;
        const parsed = fromPlain(raw);
        v = parsed ? coerce(parsed, entry.type) : null;
        if (!v) report(entry.loc, `${where} = ${JSON.stringify(raw)} is not a valid ${entry.type} for '${entry.name}'`);
        break;
      }
    }
    if (!v) {
      const pe = preset?.entries.find((e) => e.name === entry.name);
      const expr = pe ? pe.value : entry.value;
      const raw = evaluate(expr, scope);
      v = coerce(raw, entry.type);
      if (!v && raw.t !== "error") report(expr.loc, `config '${entry.name}' is declared ${entry.type} but its value is ${describe(raw)}`);
    }
    const final = v ?? { t: "error" };
    values.set(entry.name, final);
    scope.set(entry.name, final);
  }
  void file;
  return { values, presets: presets.map((p) => p.name) };
}
