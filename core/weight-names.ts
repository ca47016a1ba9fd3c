/**
 * How a graph's tensor names may appear in a checkpoint: under one of its prefixes (`model.` in a full
 * model's checkpoint), as the graph writes them or with the start of a name replaced (transformers 5
 * saves LLaVA's `vision_tower.vision_model.*` as `vision_tower.*`).
 */
export interface WeightNaming {
  prefixes: readonly string[];
  renames?: readonly (readonly [from: string, to: string])[];
}

/** A graph tensor name to the name a checkpoint stores it under. */
export type NameMap = (name: string) => string;

/** Every way the checkpoint may name the tensors, preferred first: each prefix on the graph's names, then on the renamed ones. */
export function nameMaps(naming: WeightNaming): NameMap[] {
  const prefixes = naming.prefixes.length > 0 ? naming.prefixes : [""];
  const renames = naming.renames ?? [];
  const renamed = (name: string): string => {
    const rule = renames.find(([from]) => name.startsWith(from));
    return rule ? rule[1] + name.slice(rule[0].length) : name;
  };
  const asWritten = prefixes.map(
    (p): NameMap =>
      (name) =>
        p + name,
  );
  const asRenamed = prefixes.map(
    (p): NameMap =>
      (name) =>
        p + renamed(name),
  );
  return renames.length > 0 ? [...asWritten, ...asRenamed] : asWritten;
}

/** The naming under which a checkpoint holds the most of `names` (the first such, when several tie). */
export function bestNameMap(naming: WeightNaming, names: readonly string[], has: (name: string) => boolean): NameMap {
  const maps = nameMaps(naming);
  let best = maps[0];
  let bestCount = -1;
  for (const map of maps) {
    const count = names.filter((n) => has(map(n))).length;
    if (count > bestCount) [best, bestCount] = [map, count];
  }
  return best;
}
