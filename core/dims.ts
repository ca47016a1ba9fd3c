/**
 * Symbolic tensor dimensions. A dimension is a known integer or an expression over symbols
 * (B, H, W, ...) that only the runtime knows. Kernels receive every dimension as a uniform,
 * so the same compiled kernel serves every image size.
 */
export type Dim = number | SymDim;
export type SymDim = { op: "sym"; name: string } | { op: "+" | "*" | "//" | "%"; a: Dim; b: Dim };

export type DimEnv = Readonly<Record<string, number>>;

export function sym(name: string): Dim {
  return { op: "sym", name };
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return { op: "+", a, b };
}

export function dimSub(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (b === 0) return a;
  return { op: "+", a, b: dimMul(b, -1) };
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === 0 || b === 0) return 0;
  return { op: "*", a, b };
}

export function dimFloorDiv(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.floor(a / b);
  if (b === 1) return a;
  // (c * X) / b with b dividing c is exact: (c / b) * X, so 4M / 4 is M again.
  if (typeof b === "number" && typeof a !== "number" && a.op === "*") {
    if (typeof a.a === "number" && a.a % b === 0) return dimMul(a.a / b, a.b);
    if (typeof a.b === "number" && a.b % b === 0) return dimMul(a.a, a.b / b);
  }
  return { op: "//", a, b };
}

export function dimCeilDiv(a: Dim, b: number): Dim {
  return dimFloorDiv(dimAdd(a, b - 1), b);
}

export function dimMod(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return ((a % b) + b) % b;
  return { op: "%", a, b };
}

export function evalDim(d: Dim, env: DimEnv): number {
  if (typeof d === "number") return d;
  if (d.op === "sym") {
    const v = env[d.name];
    if (v === undefined) throw new Error(`no value for symbolic dimension ${d.name}`);
    return v;
  }
  const a = evalDim(d.a, env);
  const b = evalDim(d.b, env);
  switch (d.op) {
    case "+":
      return a + b;
    case "*":
      return a * b;
    case "//":
      return Math.floor(a / b);
    case "%":
      return ((a % b) + b) % b;
  }
}

export function dimToString(d: Dim): string {
  if (typeof d === "number") return String(d);
  if (d.op === "sym") return d.name;
  return `(${dimToString(d.a)}${d.op}${dimToString(d.b)})`;
}

/** Products of dims as `coefficient * sorted symbolic factors`, so reshape checks see B*3*224*224 == B*150528. */
function monomial(d: Dim): { coef: number; factors: string[] } {
  if (typeof d === "number") return { coef: d, factors: [] };
  if (d.op === "*") {
    const a = monomial(d.a);
    const b = monomial(d.b);
    return { coef: a.coef * b.coef, factors: [...a.factors, ...b.factors].sort() };
  }
  return { coef: 1, factors: [dimToString(d)] };
}

export function numel(shape: readonly Dim[]): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function dimsEqual(a: Dim, b: Dim): boolean {
  const ma = monomial(a);
  const mb = monomial(b);
  return ma.coef === mb.coef && ma.factors.join("*") === mb.factors.join("*");
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.map(dimToString).join(", ")}]`;
}
