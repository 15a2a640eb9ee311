/*
 * Copies a store's WAL back into its database on a worker thread, not in a
 * commit on the event loop.
 *
 * SQLite checkpoints automatically inside the commit that takes the WAL past
 * `wal_autocheckpoint` pages: thousands of pages written back and the
 * database file fsynced, on the calling thread. Measured in the latency
 * bench (10,000 observations a second, 1,000 devices): the gateway's relay
 * marks that hit one took 145–255 ms where the others took under 50, and
 * every device's PUBACK and every relay answer waited through it. So the
 * stores keep their autocheckpoint only as a bound on the WAL should this
 * fall behind, and ask for a checkpoint here once a second after commits
 * (this reads the connection's count of changes once a second and asks
 * when it moved); the worker (wal-checkpoint-worker.ts) runs it PASSIVE,
 * beside the store's writer, and the next commit after a complete one
 * starts the WAL from its beginning again.
 *
 * `close()` waits (blocking, at most one checkpoint's time) for a
 * checkpoint running in the worker, so that the store's connection closes
 * last and removes the WAL as it always did.
 */
import { Worker } from "node:worker_threads";
import { CHECKPOINTING, CLOSING, IDLE, type CheckpointReply, type CheckpointWorkerData } from "./wal-checkpoint-worker.js";

export const CHECKPOINT_INTERVAL_MS = 1000;
/** Longest `close()` waits for a checkpoint in the worker: far more than one takes. */
const CLOSE_WAIT_MS = 10_000;

export interface CheckpointStats {
  /** Checkpoints the worker ran, and those that failed (the autocheckpoint still bounds the WAL then). */
  checkpoints: number;
  failures: number;
  lastError: string | null;
}

export class WalCheckpointer {
  readonly #path: string;
  readonly #changes: () => number;
  readonly #state = new SharedArrayBuffer(4);
  readonly #word = new Int32Array(this.#state);
  readonly #timer: ReturnType<typeof setInterval>;
  #worker: Worker | undefined;
  /** A checkpoint was asked of the worker and has not answered yet. */
  #asked = false;
  /** The store connection's total changes when the last checkpoint was asked for. */
  #changesSeen: number;
  #closed = false;
  readonly #stats: CheckpointStats = { checkpoints: 0, failures: 0, lastError: null };

  /** `changes`: the store connection's count of rows changed (SQLite's total_changes()), read once an interval. */
  constructor(databasePath: string, changes: () => number, intervalMs = CHECKPOINT_INTERVAL_MS) {
    this.#path = databasePath;
    this.#changes = changes;
    this.#changesSeen = changes();
    this.#timer = setInterval(() => this.#tick(), intervalMs);
    this.#timer.unref();
  }

  stats(): CheckpointStats {
    return { ...this.#stats };
  }

  /** Stops asking; waits for a checkpoint running now; the worker ends. Call before closing the store's connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    // Bounded, in case the worker died inside one (its state word would never go back to idle).
    const until = Date.now() + CLOSE_WAIT_MS;
    while (Atomics.compareExchange(this.#word, 0, IDLE, CLOSING) === CHECKPOINTING && Date.now() < until) Atomics.wait(this.#word, 0, CHECKPOINTING, until - Date.now());
    void this.#worker?.terminate();
    this.#worker = undefined;
  }

  /** Once an interval: a checkpoint if anything was written since the last one was asked for, and none runs. */
  #tick(): void {
    if (this.#closed || this.#asked) return;
    let changes: number;
    try {
      changes = this.#changes();
    } catch {
      // The store's connection is closed (a store that failed to open, or one closed without us): nothing to copy.
      return this.close();
    }
    if (changes === this.#changesSeen) return;
    this.#changesSeen = changes;
    this.#asked = true;
    this.#workerOnce().postMessage("checkpoint");
  }

  #workerOnce(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(new URL("./wal-checkpoint-worker.js", import.meta.url), { workerData: { walCheckpoint: true, path: this.#path, state: this.#state } satisfies CheckpointWorkerData });
    worker.unref();
    worker.on("message", (reply: CheckpointReply) => {
      this.#asked = false;
      if (!reply.ok) {
        this.#stats.failures++;
        this.#stats.lastError = reply.error;
      } else if (!("skipped" in reply)) this.#stats.checkpoints++;
    });
    worker.on("error", (error) => {
      // The autocheckpoint still bounds the WAL; the next interval starts a new worker.
      this.#stats.failures++;
      this.#stats.lastError = error.message;
      this.#asked = false;
      if (this.#worker === worker) this.#worker = undefined;
    });
    return (this.#worker = worker);
  }
}
