// dawn.node learns that GPU work finished by polling: while any of its promises is pending it calls
// wgpuInstanceProcessEvents from a callback that reschedules itself with setImmediate
// (AsyncRunner::ScheduleProcessEvents), so one core spins for as long as a dispatch runs or a pipeline
// compiles. On lavapipe a pipeline is compiled by LLVM at its first dispatch (0.1 s to seconds each), and on a
// 2-core machine that spin takes the core a second compile or lavapipe's second worker thread would use:
// two processes compiling at once took 14.0 s spinning against 8.7 s paced. Pacing keeps the spin for
// waits shorter than SPIN_MS, so short dispatches are answered as soon as before, and polls a longer
// wait on the timer queue (about once a millisecond) instead.

/** How long a wait is polled on every turn of the event loop before it is polled by timer. */
const SPIN_MS = 5;

/** Dawn's poll is a native function with no name, no parameters and no arguments. */
function isDawnPoll(callback: unknown, args: readonly unknown[]): callback is () => void {
  return (
    typeof callback === "function" &&
    args.length === 0 &&
    callback.name === "" &&
    callback.length === 0 &&
    Function.prototype.toString.call(callback).endsWith("{ [native code] }")
  );
}

let paced = false;

/**
 * Routes dawn.node's polls through the pacing above; every other setImmediate call passes through
 * unchanged. Installed once per process, before the first Dawn instance is created.
 */
export function paceDawnPolling(): void {
  if (paced) return;
  paced = true;
  const immediate = globalThis.setImmediate;
  let pollingSince = 0;
  let inPoll = false;
  function setImmediatePaced(callback: unknown, ...args: unknown[]): unknown {
    if (!isDawnPoll(callback, args)) return Reflect.apply(immediate, globalThis, [callback, ...args]);
    const now = performance.now();
    // A poll scheduled from inside a poll continues the same wait; any other starts a new one.
    if (!inPoll) pollingSince = now;
    const poll = (): void => {
      inPoll = true;
      try {
        callback();
      } finally {
        inPoll = false;
      }
    };
    return now - pollingSince < SPIN_MS ? immediate(poll) : setTimeout(poll, 0);
  }
  Object.defineProperty(globalThis, "setImmediate", {
    value: Object.assign(setImmediatePaced, immediate),
    writable: true,
    configurable: true,
  });
}
