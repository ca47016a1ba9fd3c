import { describe, expect, it } from "vitest";
import { compile } from "../../api/compile.ts";
import { bundledGraphs } from "../../api/graphs.ts";
import { compileGraph, graphAfter, stepNames } from "../../compiler/compile.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { GraphInvariantError, verifyGraph } from "../../compiler/passes/verify.ts";
import type { Graph } from "../../core/graph.ts";
import { tesserae } from "../helpers/cli.ts";

const vit = compile("vit", { weights: "test/fixtures/vit" }).program.graph;

/** A copy of a graph to break on purpose. */
const copy = (g: Graph): Graph => structuredClone(g);

describe("the pass harness", () => {
  it("names every step in order; an unfused compile has only the unfused ones", () => {
    expect(stepNames(true)).toEqual([
      "elaborated",
      "split-sliced-params",
      "push-gathers",
      "duplicate-views",
      "merge-linears",
      "fold-norms",
      "transpose-weights",
      "mark-stored-weights",
      "split-weight-preparation",
    ]);
    expect(stepNames(false)).toEqual(["elaborated", "split-sliced-params", "mark-stored-weights"]);
  });

  it("gives the graph after each step, verified; the last is the graph the kernels are made from", () => {
    const sizes = stepNames(true).map((s) => graphAfter(vit, s).nodes.length);
    expect(sizes[0]).toBe(201);
    // fold-norms adds the statistics and derived gains; transpose-weights the [K, N] copies; the split moves parameter-only work out.
    expect(new Set(sizes).size).toBeGreaterThan(2);
    expect(graphAfter(vit, "split-weight-preparation").nodes.length).toBe(compileGraph(vit, { fuse: true }).graph.nodes.length);
    expect(graphAfter(vit, "mark-stored-weights", false).nodes.length).toBe(compileGraph(vit, { fuse: false }).graph.nodes.length);
    expect(() => graphAfter(vit, "fold-norms", false)).toThrow(
      "no step 'fold-norms' in an unfused compile (steps: elaborated, split-sliced-params, mark-stored-weights)",
    );
  });

  it("every bundled graph verifies after every step", () => {
    for (const name of bundledGraphs()) {
      const g = compile(name).program.graph;
      for (const step of stepNames(true)) expect(() => graphAfter(g, step), `${name} after ${step}`).not.toThrow();
    }
  });
});

describe("verifyGraph", () => {
  it("catches a node reading a later one, naming the pass and the node", () => {
    const g = copy(vit);
    const n = g.nodes.findIndex((x) => x.inputs.length > 0);
    g.nodes[n].inputs[0] = g.nodes.length - 1;
    expect(() => verifyGraph(g, "my-pass")).toThrow(GraphInvariantError);
    expect(() => verifyGraph(g, "my-pass")).toThrow(
      new RegExp(
        `^internal: after pass 'my-pass', graph 'vit': %${n} \\(\\w+\\) reads %${g.nodes.length - 1}, which is not an earlier node`,
      ),
    );
  });

  it("catches a shape its op does not give, an element count a reshape cannot keep, a bad dtype and a dangling output", () => {
    const binary = copy(vit);
    const b = binary.nodes.find((x) => x.op.kind === "binary" && x.shape.length === 3);
    if (!b) throw new Error("the fixture has a binary op");
    b.shape = [...b.shape.slice(0, -1), 999];
    expect(() => verifyGraph(binary, "p")).toThrow(
      new RegExp(`%${b.id} \\(binary\\) (has shape \\[.*, 999\\], but its inputs give|does not fit its inputs)`),
    );

    const reshape = copy(vit);
    const r = reshape.nodes.find((x) => x.op.kind === "reshape");
    if (!r) throw new Error("the fixture has a reshape");
    r.shape = [7, 11];
    expect(() => verifyGraph(reshape, "p")).toThrow(`%${r.id} (reshape) does not fit its inputs: reshape: cannot view`);

    const dtype = copy(vit);
    (dtype.nodes[0] as { dtype: string }).dtype = "f64";
    expect(() => verifyGraph(dtype, "p")).toThrow("%0 (input) has dtype 'f64'");

    const output = copy(vit);
    output.outputs.push({ name: "ghost", node: 99_999 });
    expect(() => verifyGraph(output, "p")).toThrow("output 'ghost' points at %99999, which does not exist");
  });

  it("catches a stored-[K, N] mark on a matmul that does not read such a view", () => {
    const b = new GraphBuilder("m");
    const x = b.input("x", [2, 8]);
    const y = b.matmul(x, b.param("w", [8, 8]));
    b.output("y", y);
    const node = b.graph.nodes[y];
    if (node.op.kind === "matmul") node.op.storedKN = true;
    expect(() => verifyGraph(b.graph, "p")).toThrow(
      `%${y} (matmul) is marked as reading weights stored [K, N], but its B (%1) is not a transposed 2-D view`,
    );
  });

  it("runs inside the compile: a broken graph fails before any pass", () => {
    const g = copy(vit);
    const b = g.nodes.find((x) => x.op.kind === "binary") as Graph["nodes"][number];
    b.shape = [1];
    expect(() => compileGraph(g, { fuse: true })).toThrow(/^internal: after pass 'elaborated'/);
  });
});

describe("tesserae ir --after", () => {
  it("prints the graph after a step; an unknown step lists the steps", async () => {
    const r = await tesserae("ir", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--after", "transpose-weights");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^graph vit \(\d+ nodes\)/);
    expect(r.stdout).toContain("contiguous");
    // Marked one step later: the matmuls that read the copies stored [K, N].
    const marked = await tesserae("ir", "graphs/vit.tsr", "--weights", "test/fixtures/vit", "--after", "mark-stored-weights");
    expect(r.stdout).not.toContain("matmul stored-kn");
    expect(marked.stdout).toContain("matmul stored-kn");
    const bad = await tesserae("ir", "graphs/vit.tsr", "--after", "nope");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("tesserae: error: no step 'nope' in a compile (steps: elaborated, ");
  });
});
