/*
 * The worker thread of wal-checkpointer.ts: on each message, opens its own
 * connection to the store's file, copies the WAL back into the database
 * (PRAGMA wal_checkpoint(PASSIVE): it never waits for, nor blocks, the
 * store's readers and writer) and closes the connection again, so that
 * between checkpoints it holds nothing open and the store's own connection
 * stays the last one, which removes the WAL when it closes.
 *
 * The shared state word says who may touch the file: 0 idle, 1 a
 * checkpoint runs here, 2 the store is closing (nothing starts then).
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";

export const IDLE = 0;
export const CHECKPOINTING = 1;
export const CLOSING = 2;

export interface CheckpointWorkerData {
  /** Marks this worker's data, so a store opened inside some other worker thread does not take that thread's port. */
  walCheckpoint: true;
  path: string;
  state: SharedArrayBuffer;
}

/** What one checkpoint did: the WAL's frames and how many of them are now in the database. */
export type CheckpointReply = { ok: true; busy: number; log: number; checkpointed: number } | { ok: false; error: string } | { ok: true; skipped: true };

if (parentPort !== null && (workerData as CheckpointWorkerData | undefined)?.walCheckpoint === true) {
  const port = parentPort;
  const { path, state } = workerData as CheckpointWorkerData;
  const word = new Int32Array(state);
  port.on("message", () => {
    if (Atomics.compareExchange(word, 0, IDLE, CHECKPOINTING) !== IDLE) return port.postMessage({ ok: true, skipped: true } satisfies CheckpointReply);
    let reply: CheckpointReply;
    try {
      const db = new Database(path, { fileMustExist: true });
      try {
        const [result] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ busy: number; log: number; checkpointed: number }>;
        reply = { ok: true, ...result };
      } finally {
        db.close();
      }
    } catch (e) {
      reply = { ok: false, error: (e as Error).message };
    } finally {
      Atomics.store(word, 0, IDLE);
      Atomics.notify(word, 0);
    }
    port.postMessage(reply);
  });
}
