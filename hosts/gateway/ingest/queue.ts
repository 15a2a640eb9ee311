/*
 * Group commit: publishes submitted in the same turn of the event loop are
 * staged into one SQLite transaction, so one fsync covers them all, and
 * each is answered only after that commit.
 *
 * Why a turn: aedes parses a whole socket chunk and handles its publishes
 * concurrently, and the sockets that became readable together are read in
 * the same poll phase; a flush on setImmediate runs after all of them, so
 * one client's QoS 1 window and many clients' publishes share a commit
 * without any timer adding latency.
 *
 * A commit is durable once the store's `sync` resolves (an fsync of the
 * WAL on a thread of its own, ../../sqlite/wal-sync.ts): only then are the
 * group's outcomes handed back, so no PUBACK precedes it. Meanwhile the
 * event loop goes on reading devices and serving the relay, which may
 * already send the group's rows (the cloud dedups a row the device resends
 * if the sync never completes); what arrives meanwhile is committed as one
 * group when the sync is done (or at once, if it reaches maxGroup), so the
 * fsync's time still gathers groups as a blocking fsync would, without the
 * event loop standing still for it. A sync that fails
 * turns the group's outcomes into "failed": the devices keep the records
 * and send them again (stored already, they are then duplicates).
 *
 * If the group's transaction fails, it has rolled back, and each publish is
 * committed again on its own: one bad publish costs the others a commit,
 * not their acknowledgement. One that fails alone resolves as "failed".
 */
import type { Logger } from "../../log/logger.js";
import { LogThrottle } from "../../log/log-throttle.js";
import { COMMIT_FAILURE_LOG_INTERVAL_MS } from "./commit-failures.js";
import type { Ingest, IngestOutcome, PublishInput, StagedPublish } from "./ingest.js";
import type { ObservationStore } from "../store/observation-store.js";

/**
 * Publishes per transaction at most. 1,000 small rows commit in a few ms;
 * much larger groups only delay the first publish's PUBACK and hold more
 * packets in memory, without saving fsyncs worth having.
 */
export const MAX_GROUP_COMMIT = 1000;

export interface GroupCommitStats {
  /** Transactions committed (a group, or one publish committed alone after its group failed). */
  commits: number;
  /** Publishes committed or failed through the queue. */
  publishes: number;
  largestGroup: number;
  /** Groups whose transaction failed, so each publish was committed alone. */
  failedGroups: number;
  /** Groups committed whose sync to disk failed (not acknowledged). */
  failedSyncs: number;
  /** Publishes waiting for their group's commit now. */
  awaitingCommit: number;
  /** Committed groups waiting for their sync to disk now (their PUBACKs follow it). */
  awaitingSync: number;
}

export interface IngestQueueOptions {
  ingest: Ingest;
  store: ObservationStore;
  logger: Logger;
  maxGroup?: number;
  /** Called after each flush with every outcome, once they are committed and settled. */
  onCommitted?: (outcomes: readonly IngestOutcome[]) => void;
}

interface Pending {
  input: PublishInput;
  done: (outcome: IngestOutcome, input: PublishInput) => void;
}

export class IngestQueue {
  readonly #ingest: Ingest;
  readonly #store: ObservationStore;
  readonly #log: Logger;
  readonly #maxGroup: number;
  readonly #onCommitted: (outcomes: readonly IngestOutcome[]) => void;
  #pending: Pending[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  readonly #stats: Omit<GroupCommitStats, "awaitingCommit" | "awaitingSync"> = { commits: 0, publishes: 0, largestGroup: 0, failedGroups: 0, failedSyncs: 0 };
  // A store failing every commit fails every group: one line per interval, as for the publishes themselves.
  readonly #failedGroupLog = new LogThrottle(COMMIT_FAILURE_LOG_INTERVAL_MS);
  /** Groups committed and waiting for their sync. */
  #syncing = 0;
  readonly #syncFailureLog = new LogThrottle(COMMIT_FAILURE_LOG_INTERVAL_MS);

  constructor(options: IngestQueueOptions) {
    this.#ingest = options.ingest;
    this.#store = options.store;
    this.#log = options.logger;
    this.#maxGroup = options.maxGroup ?? MAX_GROUP_COMMIT;
    if (!Number.isInteger(this.#maxGroup) || this.#maxGroup < 1) throw new RangeError(`maxGroup must be a positive integer, got ${this.#maxGroup}`);
    this.#onCommitted = options.onCommitted ?? (() => {});
  }

  /** Resolves (never rejects) once the publish is committed, or with "failed" if it could not be. */
  submit(input: PublishInput): Promise<IngestOutcome> {
    return new Promise((resolve) => this.enqueue(input, resolve));
  }

  /** As `submit`, without a promise: `done` is called once, with the outcome and the input, after the commit. */
  enqueue<T extends PublishInput>(input: T, done: (outcome: IngestOutcome, input: T) => void): void {
    this.#pending.push({ input, done: done as Pending["done"] });
    if (this.#pending.length >= this.#maxGroup) this.flush();
    else if (this.#syncing === 0) this.#schedule();
  }

  #schedule(): void {
    this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Commits everything submitted so far, now. */
  flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    while (this.#pending.length > 0) {
      const group = this.#pending.splice(0, this.#maxGroup);
      const outcomes = this.#commit(group.map((p) => p.input));
      this.#stats.publishes += group.length;
      this.#stats.largestGroup = Math.max(this.#stats.largestGroup, group.length);
      try {
        this.#onCommitted(outcomes);
      } catch (e) {
        // The group is committed whatever its observer did; throwing here would crash the gateway from a setImmediate.
        this.#log.error(`after a group commit: ${(e as Error).message}`, { error: e });
      }
      this.#answerWhenDurable(group, outcomes);
    }
  }

  /** Hands the outcomes back once the commit is on disk; "failed" ones (nothing committed) need not wait. */
  #answerWhenDurable(group: Pending[], outcomes: IngestOutcome[]): void {
    if (outcomes.every((o) => o.kind === "failed")) {
      for (let i = 0; i < group.length; i++) group[i].done(outcomes[i], group[i].input);
      return;
    }
    this.#syncing++;
    const synced = () => {
      this.#syncing--;
      // What arrived during the sync goes in the next group.
      if (this.#pending.length > 0) this.#schedule();
    };
    this.#store.sync().then(
      () => {
        synced();
        this.#ingest.synced();
        for (let i = 0; i < group.length; i++) group[i].done(outcomes[i], group[i].input);
      },
      (error: Error) => {
        synced();
        this.#stats.failedSyncs++;
        this.#ingest.syncFailed(error);
        const line = this.#syncFailureLog.note("sync", Date.now());
        if (line.log) {
          const more = line.suppressed > 0 ? ` (${line.suppressed} more failed syncs since the last such line)` : "";
          this.#log.error(`could not sync ${group.length} committed publishes to disk (${error.message}); not acknowledging them${more}`, { publishes: group.length, error, suppressed: line.suppressed });
        }
        const failed: IngestOutcome = { kind: "failed", error };
        for (let i = 0; i < group.length; i++) group[i].done(failed, group[i].input);
      },
    );
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** Committed groups waiting for their sync to disk. */
  get syncing(): number {
    return this.#syncing;
  }

  stats(): GroupCommitStats {
    return { ...this.#stats, awaitingCommit: this.#pending.length, awaitingSync: this.#syncing };
  }

  #commit(inputs: PublishInput[]): IngestOutcome[] {
    let staged: StagedPublish[];
    try {
      staged = this.#store.transaction(() => this.#ingest.stageAll(inputs));
    } catch (e) {
      return this.#commitEachAlone(inputs, e);
    }
    this.#stats.commits++;
    this.#ingest.committed();
    for (const s of staged) s.settle();
    return staged.map((s) => s.outcome);
  }

  #commitEachAlone(inputs: PublishInput[], cause: unknown): IngestOutcome[] {
    this.#stats.failedGroups++;
    if (inputs.length === 1) {
      // Already alone: committing it again would fail the same way.
      return [this.#ingest.fail(inputs[0], cause)];
    }
    const { log, suppressed } = this.#failedGroupLog.note("group", Date.now());
    if (log) {
      const more = suppressed > 0 ? ` (${suppressed} more like this since the last such line)` : "";
      this.#log.warn(`group commit of ${inputs.length} publishes failed (${(cause as Error)?.message ?? cause}); committing each alone${more}`, {
        publishes: inputs.length,
        error: cause,
        suppressed,
      });
    }
    return inputs.map((input) => {
      const outcome = this.#ingest.handle(input);
      if (outcome.kind !== "failed") this.#stats.commits++;
      return outcome;
    });
  }
}
