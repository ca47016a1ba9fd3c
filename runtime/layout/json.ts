import type { TokenLayout } from "./types.ts";

/** The layout as JSON: objects indented, arrays of numbers on one line (position ids run to thousands). */
export function layoutJson(model: string, layout: TokenLayout): string {
  const doc = { model, ...layout };
  const inline = new Map<string, string>();
  const text = JSON.stringify(
    doc,
    (_key, value: unknown) => {
      if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
        const marker = `@@inline${inline.size}@@`;
        inline.set(marker, JSON.stringify(value));
        return marker;
      }
      return value;
    },
    2,
  );
  return `${text.replace(/"@@inline\d+@@"/g, (m) => inline.get(m.slice(1, -1)) as string)}\n`;
}
