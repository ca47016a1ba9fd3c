import { io, type TextSink } from "./io.ts";

/**
 * Progress of a long GPU run on stderr: a line rewritten in place on a terminal (after two seconds),
 * otherwise one line per tenth of the work once ten seconds have passed, so quick runs print nothing.
 */
export function progressReporter(label: string, stream: TextSink = io().err): { update: (fraction: number) => void; finish: () => void } {
  const started = performance.now();
  let shownTenth = 0;
  let drawn = false;
  return {
    update(fraction: number): void {
      const seconds = (performance.now() - started) / 1000;
      if (seconds < (stream.isTTY ? 2 : 10)) return;
      const eta = fraction > 0 ? (seconds / fraction) * (1 - fraction) : NaN;
      const text = `${label} ${(100 * fraction).toFixed(0).padStart(3)}%  ${seconds.toFixed(0)} s elapsed, about ${eta.toFixed(0)} s left`;
      if (stream.isTTY) {
        stream.write(`\r${text}\x1b[K`);
        drawn = true;
      } else if (Math.floor(fraction * 10) > shownTenth) {
        shownTenth = Math.floor(fraction * 10);
        stream.write(`${text}\n`);
      }
    },
    finish(): void {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}
