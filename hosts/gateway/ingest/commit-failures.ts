/*
 * When the store cannot commit (a full disk, a failing card), every
 * publish fails and every device retries: what health needs (since when,
 * and why) and a log that says so without a line per publish. The counter
 * of failed publishes is the ingest's; this keeps the rest. A commit that
 * succeeds but cannot be synced to disk (fsync failing: a dying card, a
 * filesystem gone read-only under the WAL) is as bad for devices, nothing
 * is acknowledged, and is kept apart: the next commit succeeding says
 * nothing about the next sync.
 */
import type { Logger } from "../../log/logger.js";
import { LogThrottle } from "../../log/log-throttle.js";

/** One line per kind of failure per 10 s, with the count of the rest, as for refusals. */
export const COMMIT_FAILURE_LOG_INTERVAL_MS = 10_000;

/** The store's latest commit failed and none has succeeded since: since when, and why. */
export interface CommitFailure {
  since: number;
  error: string;
}

export class CommitFailures {
  readonly #log: Logger;
  readonly #throttle = new LogThrottle(COMMIT_FAILURE_LOG_INTERVAL_MS);
  #current: CommitFailure | null = null;
  #unsynced: CommitFailure | null = null;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** A publish could not be committed: remembered for health, logged unless a line for its kind went out within the interval. */
  failed(error: Error, fields: { clientId: string | null; topic: string }, now: number): void {
    this.#current ??= { since: now, error: error.message };
    this.#current.error = error.message;
    // Keyed by the store's error code (SQLITE_FULL, SQLITE_IOERR_WRITE...), not by client: a full disk is one fault.
    const kind = String((error as { code?: unknown }).code ?? error.message).slice(0, 64);
    const { log, suppressed } = this.#throttle.note(kind, now);
    if (!log) return;
    const more = suppressed > 0 ? ` (${suppressed} more like this since the last such line)` : "";
    this.#log.error(`could not commit publish (${error.message}); not acknowledging it, the device keeps it${more}`, {
      clientId: fields.clientId, topic: fields.topic.slice(0, 256), error, suppressed,
    });
  }

  /** A transaction committed: the store takes commits again. */
  committed(): void {
    this.#current = null;
  }

  /** A committed group could not be synced to disk (the queue logs it, throttled, and counts it). */
  syncFailed(error: Error, now: number): void {
    this.#unsynced ??= { since: now, error: "" };
    this.#unsynced.error = `committed, but could not sync to disk: ${error.message}`;
  }

  /** A committed group reached the disk: syncs work again. */
  synced(): void {
    this.#unsynced = null;
  }

  get current(): CommitFailure | null {
    return this.#current ?? this.#unsynced;
  }
}
