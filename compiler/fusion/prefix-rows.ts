import { isElementwise, type Node } from "../../core/graph.ts";
import type { Decisions, Draft } from "./draft.ts";
import { type FusionFacts, sameShape } from "./facts.ts";
import { PREFIX_MAX_ROWS } from "./limits.ts";
import { MERGE_RULES } from "./rules.ts";

const RULE = MERGE_RULES[1].name;

/** A matmul kernel whose result, through elementwise math, is the last part of a concat along the rows. */
interface PrefixMerge {
  matmul: Draft;
  /** The members of the consumer that move into the matmul's epilogue, its new root included. */
  moved: Set<number>;
  prefixRows: number;
}

/**
 * MERGE_RULES' prefix-rows-epilogue: rows concatenated in front of a matmul's result (the class token in
 * front of a patch embedding), and elementwise math of the concatenation's shape after it (the position
 * table), become the matmul's epilogue. The matmul's row m is written at row m + prefix and the
 * invocations of its row 0 also compute the prefix rows, so the embedding is one kernel instead of a
 * matmul and a kernel that copies every row to add a row in front. A pointwise consumer joins whole; of a
 * row kernel (CLIP's pre-LayerNorm) the part up to the input of its reductions moves, and that input is
 * written for the row kernel to read.
 */
export function absorbPrefixRows(facts: FusionFacts, drafts: Draft[], decisions: Decisions): void {
  for (const consumer of [...drafts]) {
    if (consumer.core !== null || consumer.inlined.size > 0) continue;
    const root = consumer.reduces.length === 0 ? consumer.root : facts.node(Math.min(...consumer.reduces)).inputs[0];
    const merge = consumer.members.has(root) ? prefixMerge(facts, drafts, consumer, facts.node(root)) : null;
    if (!merge) continue;
    const { matmul, moved, prefixRows } = merge;
    decisions.apart.delete(matmul.root);
    decisions.joined.set(matmul.root, RULE);
    for (const m of moved) matmul.members.add(m);
    matmul.root = root;
    matmul.prefixRows = prefixRows;
    drafts.splice(drafts.indexOf(matmul), 1);
    if (root === consumer.root) drafts[drafts.indexOf(consumer)] = matmul;
    else {
      for (const m of moved) consumer.members.delete(m);
      decisions.joined.delete(root);
      decisions.apart.set(root, `the embedding ${RULE} joined to a matmul, read by the row kernel of %${consumer.root}`);
      // Drafts run in reverse: the embedding runs just before the row kernel that reads it.
      drafts.splice(drafts.indexOf(consumer) + 1, 0, matmul);
    }
  }
}

function prefixMerge(facts: FusionFacts, drafts: readonly Draft[], consumer: Draft, root: Node): PrefixMerge | null {
  const moved = new Set([root.id, ...facts.ancestorsIn(root.id, consumer)]);
  // Only the new root may be read by what stays in the consumer.
  if (![...moved].every((m) => m === root.id || facts.consumers[m].every((c) => moved.has(c)))) return null;
  for (const m of [...moved].sort((a, b) => a - b)) {
    for (const y of facts.node(m).inputs) {
      const matmul = drafts.find((d) => d.root === y);
      if (!matmul || moved.has(y)) continue;
      const merge = mergeAt(facts, matmul, consumer, moved, root);
      if (merge) return merge;
    }
  }
  return null;
}

/** Whether `moved` reads `matmul`'s result through elementwise math, one concat along the rows in front of it, and elementwise math. */
function mergeAt(facts: FusionFacts, matmul: Draft, consumer: Draft, moved: Set<number>, root: Node): PrefixMerge | null {
  const y = facts.node(matmul.root);
  if (matmul.core === null || facts.node(matmul.core).op.kind !== "matmul") return null;
  if (matmul.reduces.length > 0 || matmul.rowStats.length > 0 || facts.outputs.has(y.id)) return null;
  if (!facts.consumers[y.id].every((c) => moved.has(c))) return null;
  const depends = new Set<number>();
  for (const m of [...moved].sort((a, b) => a - b)) if (facts.node(m).inputs.some((i) => i === y.id || depends.has(i))) depends.add(m);
  const concats = [...depends].filter((m) => facts.node(m).op.kind === "concat");
  if (concats.length !== 1 || !depends.has(root.id)) return null;
  const concat = facts.node(concats[0]);
  const r = concat.shape.length;
  const [front, back] = concat.inputs.map((i) => facts.node(i));
  if (concat.op.kind !== "concat" || concat.op.axis !== r - 2 || concat.inputs.length !== 2) return null;
  if (depends.has(front.id) || front.id === y.id || !(depends.has(back.id) || back.id === y.id)) return null;
  const prefixRows = front.shape[r - 2];
  if (typeof prefixRows !== "number" || prefixRows > PREFIX_MAX_ROWS || !sameShape(back, y)) return null;
  const beforeConcat = facts.ancestorsIn(concat.id, consumer);
  const ok = [...depends].every(
    (m) => m === concat.id || (isElementwise(facts.node(m)) && sameShape(facts.node(m), beforeConcat.has(m) ? y : concat)),
  );
  return ok ? { matmul, moved, prefixRows } : null;
}
