/**
 * Work on one device takes turns: runs share its queue, its error scopes (a scope pushed by one run would
 * be popped by another) and each plan's intermediate buffers, so a run starts when the previous one on
 * the same device has settled. Host work around a run (decoding, preprocessing) still overlaps.
 */
const lastTurn = new WeakMap<GPUDevice, Promise<unknown>>();

/** Runs `work` once every earlier turn on `device` has settled (fulfilled or failed). */
export function inTurn<T>(device: GPUDevice, work: () => Promise<T>): Promise<T> {
  const previous = lastTurn.get(device) ?? Promise.resolve();
  const turn = previous.then(work);
  lastTurn.set(
    device,
    turn.catch(() => undefined),
  );
  return turn;
}
