import type { EmbedProgress } from "../api/dataset/embed.ts";
import { io, type TextSink } from "./io.ts";

const BAR = 24;
const LOG_EVERY_MS = 5000;

function line(p: EmbedProgress): string {
  const left = Number.isFinite(p.secondsLeft) ? `, about ${Math.ceil(p.secondsLeft)} s left` : "";
  const failed = p.failed > 0 ? ` (${p.failed} unreadable)` : "";
  return `${p.done}/${p.total} images${failed}, ${p.imagesPerSecond.toFixed(1)} images/s${left}`;
}

/**
 * The embed command's progress on stderr: a bar redrawn in place on a terminal; elsewhere (a log, a
 * Kubernetes pod) a line after the first batch and then at most every five seconds.
 */
export function embedProgress(stream: TextSink = io().err): { update: (p: EmbedProgress) => void; finish: () => void } {
  let drawn = false;
  let logged = -Infinity;
  return {
    update(p: EmbedProgress): void {
      if (stream.isTTY) {
        const filled = p.total > 0 ? Math.round((BAR * p.done) / p.total) : BAR;
        stream.write(`\r[${"#".repeat(filled)}${"-".repeat(BAR - filled)}] ${line(p)}\x1b[K`);
        drawn = true;
        return;
      }
      const now = performance.now();
      if (now - logged < LOG_EVERY_MS && p.done < p.total) return;
      logged = now;
      stream.write(`embedded ${line(p)}\n`);
    },
    finish(): void {
      if (drawn) stream.write("\n");
    },
  };
}
