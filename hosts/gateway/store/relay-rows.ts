/*
 * The store's side of relaying: handing out the oldest unrelayed rows and
 * marking those the cloud acknowledged. Reached through ObservationStore
 * (`unrelayed`, `markRelayed`), which tells it what each commit stored and
 * when rows changed behind its back.
 *
 * The rows come from memory when they can (unrelayed-tail.ts) and from
 * SQLite otherwise. A row keeps the time it was sent with: an anchor that
 * re-timed rows while a batch was in flight must not leave the gateway
 * claiming a time the cloud never got. So the marks write each row's time
 * only when an anchor re-timed rows since the batch was handed out; else
 * SQLite already holds those times and one UPDATE per run of consecutive
 * ids sets relayed_at.
 */
import type Database from "better-sqlite3";
import type { TimeSource } from "../../../modules/observation/observation-json.js";
import { toStored, type ObservationRow, type StoredObservation } from "./schema.js";
import { UnrelayedTail } from "./unrelayed-tail.js";

type MarkParams = { at: number; id: number; time: number | null; source: TimeSource | null };
type Marked = Pick<StoredObservation, "id" | "observation">;

/**
 * On each row object this file hands out: how many re-timings SQLite had
 * seen when the object was made. A re-timing drops every copy the tail
 * holds, so an object is never handed out after one that postdates it; if
 * its stamp is behind at mark time, the time it was sent with may no longer
 * be SQLite's. A symbol, so the row's public shape is unchanged.
 */
const RETIMES = Symbol("retimes when made");
type Stamped = StoredObservation & { [RETIMES]?: number };

export class RelayRows {
  readonly #tail = new UnrelayedTail();
  readonly #inTransaction: <T>(work: () => T) => T;
  readonly #oldest: Database.Statement<[number], ObservationRow>;
  readonly #oldestBelow: Database.Statement<[number, number], ObservationRow>;
  readonly #markOne: Database.Statement<[MarkParams]>;
  readonly #markRun: Database.Statement<[number, number, number]>;
  readonly #keepLocal: Database.Statement<[number, number]>;
  readonly #markKept: Database.Statement<[number, number]>;
  /** Times anchors changed unrelayed rows in SQLite. */
  #retimes = 0;

  constructor(db: Database.Database) {
    this.#inTransaction = db.transaction((work: () => unknown) => work()) as <T>(work: () => T) => T;
    this.#oldest = db.prepare("SELECT * FROM observations WHERE relayed_at IS NULL ORDER BY id LIMIT ?");
    this.#oldestBelow = db.prepare("SELECT * FROM observations WHERE relayed_at IS NULL AND id < ? ORDER BY id LIMIT ?");
    this.#markOne = db.prepare(
      "UPDATE observations SET relayed_at = @at, time = @time, time_source = @source WHERE id = @id AND relayed_at IS NULL",
    );
    this.#markRun = db.prepare("UPDATE observations SET relayed_at = ? WHERE id BETWEEN ? AND ? AND relayed_at IS NULL");
    this.#keepLocal = db.prepare("UPDATE observations SET relayed_at = ? WHERE id = ? AND relayed_at IS NULL");
    this.#markKept = db.prepare("INSERT OR REPLACE INTO rule_kept_local (id, at) VALUES (?, ?)");
  }

  /** A row just stored, as the relay will get it once its transaction commits. */
  row(id: number, observation: StoredObservation["observation"], receivedAt: number): StoredObservation {
    return { id, observation, receivedAt, relayedAt: null, [RETIMES]: this.#retimes } as Stamped;
  }

  /** Rows a commit stored (made by `row`), in id order. */
  committed(rows: readonly StoredObservation[]): void {
    if (rows.length > 0) this.#tail.add(rows);
  }

  /** Unrelayed rows changed in SQLite (an anchor timed them): copies in memory are stale. */
  retimed(): void {
    this.#retimes++;
    this.#tail.invalidate();
  }

  /** A transaction that took rows out of the tail rolled back: SQLite has them again, the tail must read them back. */
  rolledBack(): void {
    this.#tail.invalidate();
  }

  /** Unrelayed rows were deleted (the disk cap). */
  evicted(): void {
    this.#tail.invalidate();
  }

  /** The oldest observations not yet acknowledged by the cloud, in arrival order. */
  oldest(limit: number): StoredObservation[] {
    let rows: StoredObservation[];
    if (this.#tail.complete) rows = this.#tail.oldest(limit);
    else {
      // Older rows than the tail holds may be waiting in SQLite (a backlog from before a restart, or an overflow).
      const first = this.#tail.firstId;
      const read = (first === Infinity ? this.#oldest.all(limit) : this.#oldestBelow.all(first, limit)).map((row) => {
        const stored: Stamped = toStored(row);
        stored[RETIMES] = this.#retimes;
        return stored;
      });
      this.#tail.readBelow(read, limit);
      rows = this.#tail.complete ? this.#tail.oldest(limit) : read;
    }
    return rows;
  }

  /** No anchor re-timed rows since these were handed out: SQLite holds the very times they were sent with. */
  timesAsSent(rows: readonly Marked[]): boolean {
    return rows.every((row) => (row as Stamped)[RETIMES] === this.#retimes);
  }

  /** Marks rows, as handed out and sent, acknowledged; one transaction. Returns how many changed. */
  mark(rows: readonly Marked[], at: number): number {
    if (rows.length === 0) return 0;
    const asSent = this.timesAsSent(rows);
    // A relayed mark lost to a power cut only means a resend, which the
    // cloud deduplicates: it need not wait for an fsync of its own (the
    // store runs at synchronous=NORMAL; the next group commit's sync takes
    // the mark to disk with it).
    const changed = this.#inTransaction(() => (asSent ? this.#markRuns(rows, at) : this.#markEach(rows, at)));
    this.#tail.remove(rows.map((row) => row.id));
    return changed;
  }

  /**
   * Rows a gateway rule kept at the gateway leave the outbox (relayed_at
   * set, the id in rule_kept_local) unless already relayed; in the
   * caller's transaction. Returns the ids that left.
   */
  keepLocal(ids: readonly number[], at: number): number[] {
    const kept = ids.filter((id) => this.#keepLocal.run(at, id).changes === 1 && this.#markKept.run(id, at).changes === 1);
    // If the caller's transaction rolls back, they are unrelayed again in SQLite: the store then calls rolledBack().
    if (kept.length > 0) this.#tail.remove(kept);
    return kept;
  }

  /** One UPDATE per run of consecutive ids: a batch is usually one run. */
  #markRuns(rows: readonly Marked[], at: number): number {
    const ids = rows.map((row) => row.id).sort((a, b) => a - b);
    let changed = 0;
    let first = ids[0];
    let last = first;
    for (let i = 1; i < ids.length; i++) {
      const id = ids[i];
      if (id === last || id === last + 1) last = id;
      else {
        changed += this.#markRun.run(at, first, last).changes;
        first = last = id;
      }
    }
    return changed + this.#markRun.run(at, first, last).changes;
  }

  #markEach(rows: readonly Marked[], at: number): number {
    let changed = 0;
    for (const { id, observation } of rows) {
      changed += this.#markOne.run({ at, id, time: observation.time ?? null, source: observation.timeSource ?? null }).changes;
    }
    return changed;
  }
}
