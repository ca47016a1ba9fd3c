import { describe, expect, it } from "vitest";
import { bestNameMap, nameMaps } from "../../core/weight-names.ts";

describe("weight names", () => {
  const naming = { prefixes: ["", "model."], renames: [["vision_tower.vision_model.", "vision_tower."]] as const };

  it("tries each prefix on the graph's names, then on the renamed ones", () => {
    const name = "vision_tower.vision_model.embeddings.patch_embedding.weight";
    expect(nameMaps(naming).map((m) => m(name))).toEqual([
      name,
      `model.${name}`,
      "vision_tower.embeddings.patch_embedding.weight",
      "model.vision_tower.embeddings.patch_embedding.weight",
    ]);
    // Names the renames do not start with stay as they are.
    expect(nameMaps(naming).map((m) => m("multi_modal_projector.linear_1.weight"))[2]).toBe("multi_modal_projector.linear_1.weight");
    expect(nameMaps({ prefixes: [] }).map((m) => m("x"))).toEqual(["x"]);
  });

  it("picks the naming that finds the most tensors, the first on a tie", () => {
    const names = ["vision_tower.vision_model.a", "multi_modal_projector.b"];
    const saved = new Set(["vision_tower.a", "multi_modal_projector.b"]);
    expect(bestNameMap(naming, names, (n) => saved.has(n))(names[0])).toBe("vision_tower.a");
    expect(bestNameMap(naming, names, () => false)(names[0])).toBe(names[0]);
  });
});
