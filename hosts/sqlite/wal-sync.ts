/*
 * The fsync that makes committed transactions durable, off the event loop.
 *
 * SQLite's synchronous=FULL in WAL mode is NORMAL plus one sync of the WAL
 * file after each commit (sqlite.org/pragma.html#pragma_synchronous),
 * inside the commit, on the calling thread: the event loop would stand
 * still for every fsync (milliseconds on an SD card, tens of them under
 * load), and no device would get a PUBACK from the gateway, no gateway an
 * answer from the reference cloud, meanwhile. So both stores (the
 * gateway's, ../gateway/store/; the cloud's, simulator/cloud/cloud-store.ts)
 * run at NORMAL and their callers ask for
 * that sync here, on libuv's thread pool, before they acknowledge: once
 * `sync()` resolves, every transaction committed before the call is on
 * disk. Calls made while a sync runs share the next one, so one fdatasync
 * covers every commit made meanwhile (a group commit of group commits).
 *
 * The WAL file keeps its inode while the store is open (SQLite rewrites it
 * from the start after a checkpoint, never replaces it), so one descriptor,
 * opened on first use, serves for the store's life.
 */
import { close, fdatasync, openSync } from "node:fs";

export class WalSync {
  readonly #path: string;
  #fd: number | undefined;
  /** The sync running now, and the one that will start after it for the callers that came meanwhile. */
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #closed = false;

  constructor(walPath: string) {
    this.#path = walPath;
  }

  /** Resolves once everything written to the WAL before this call is on disk; rejects with the fsync's error. */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the store is closed"));
    if (this.#running === undefined) return (this.#running = this.#start());
    // A sync already running may have begun before this caller's writes: wait for it, then one more.
    this.#next ??= this.#running.catch(() => {}).then(() => {
      this.#next = undefined;
      return (this.#running = this.#start());
    });
    return this.#next;
  }

  /** Closes the descriptor once no sync needs it. */
  close(): void {
    this.#closed = true;
    const last = this.#next ?? this.#running;
    const closeFd = () => {
      if (this.#fd !== undefined) close(this.#fd, () => {});
      this.#fd = undefined;
    };
    if (last === undefined) closeFd();
    else last.then(closeFd, closeFd);
  }

  #start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        this.#fd ??= openSync(this.#path, "r+");
      } catch (e) {
        // No WAL file yet: nothing was ever written to it, so nothing needs syncing.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return resolve();
        return reject(e);
      }
      fdatasync(this.#fd, (error) => (error ? reject(error) : resolve()));
    }).finally(() => {
      this.#running = undefined;
    });
  }
}
