// A decode thread of the embedding pipeline: images are read, decoded and preprocessed here while the
// main thread's GPU work runs.
import { parentPort } from "node:worker_threads";
import { type DecodeReply, type DecodeTask, decodeItem, transferables } from "./decode.ts";

const port = parentPort;
if (!port) throw new Error("decode-worker.ts runs as a worker thread");
port.on("message", (task: DecodeTask) => {
  decodeItem(task.item, task.steps).then(
    (ok) => port.postMessage({ seq: task.seq, ok } satisfies DecodeReply, transferables(ok)),
    (e: unknown) => port.postMessage({ seq: task.seq, error: e instanceof Error ? e.message : String(e) } satisfies DecodeReply),
  );
});
