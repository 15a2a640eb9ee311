/*
 * The gateway's durable store: every observation it has acknowledged to a
 * device, the clock anchor of each device boot, and a quarantine of every
 * payload it refused.
 *
 * What this file commits and `sync` then flushes is the gateway's promise
 * to the device: the group commit (../ingest/queue.ts) sends no PUBACK
 * before both. A commit alone is not durable (the connection runs at
 * synchronous=NORMAL, under which WAL mode may lose the last transactions
 * on power loss, and an acknowledged record lost that way is one the device
 * has already deleted from its flash); `sync` adds exactly what FULL would,
 * one fsync of the WAL after the commits, but on a thread of its own and
 * shared by every commit made while one runs (hosts/sqlite/wal-sync.ts), so the event
 * loop never waits on the disk.
 *
 * Synchronous and timer-free on purpose (but for `sync`): callers decide
 * when to call it.
 *
 * Each commit hands the rows it stored to relay-rows.ts, which gives them
 * to the relay from memory rather than reading back what was just written.
 * The anchors (boot-anchors.ts), what the disk cap needs (eviction.ts)
 * and the figures (tally.ts: counted once at open and told of every
 * change, as counting millions of rows per API call would stall the event
 * loop that sends PUBACKs) live in files of their own too.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { asStoreFileError, durabilityOf, openDurableDatabase } from "../../sqlite/durable-database.js";
import type { TimedObservation } from "../../../modules/observation/record.js";
import { BootAnchors, type AnchorOutcome } from "./boot-anchors.js";
import type { BootAnchor } from "./clock-map.js";
import { ObservationQueries } from "./queries.js";
import { StoreEviction, type Eviction } from "./eviction.js";
import { MIGRATIONS, toStored, type QuarantineEntry, type RejectedRow, type StoredObservation } from "./schema.js";
import { RelayRows } from "./relay-rows.js";
import { StoreQuarantine } from "./quarantine.js";
import { RuleRows } from "./rule-rows.js";
import { RuleAlerts } from "./rule-alerts.js";
import type { StoreChange, StoreTally } from "./tally.js";
import { reportContents, scanTally } from "./tally-scan.js";
import { WalSync } from "../../sqlite/wal-sync.js";
import { WalCheckpointer, type CheckpointStats } from "../../sqlite/wal-checkpointer.js";
import { OpenTransaction } from "./open-transaction.js";
import { ObservationWrites, type AppendOutcome } from "./observation-writes.js";
import type { Logger } from "../../log/logger.js";

export { SCHEMA_VERSION, type QuarantineEntry, type RejectedRow, type StoredObservation } from "./schema.js";
export { MAX_CACHED_ANCHORS, type AnchorOutcome } from "./boot-anchors.js";
export { MAX_EVICTED_RANGES, type EvictedRange, type Eviction } from "./eviction.js";
export { StoreCorruptError, StoreFileError, StoreVersionError } from "../../sqlite/durable-database.js";
export { MAX_QUARANTINED_BYTES, MAX_QUARANTINED_TOPIC } from "./quarantine.js";
export type { RuleInputRow, RuleRow, VersionRow, VersionStatus } from "./rule-rows.js";
export type { AlertRecord, NewAlert } from "./rule-alerts.js";
export type { AppendOutcome } from "./observation-writes.js";

/** File name under the data directory. */
export const STORE_FILE = "observations.db";

/**
 * The WAL is copied back into the database by a worker thread about once a
 * second after commits (hosts/sqlite/wal-checkpointer.ts); in a commit on
 * the event loop only if that falls behind and the WAL holds this many
 * pages (SQLite's default is 1,000). Each group commit with many devices dirties
 * a page of the (sensor_id, seq) index per device (each device's newest
 * entries are in a leaf of their own), so at 1,000 pages nearly every
 * commit triggered a checkpoint that rewrote the same pages. 10,000 pages of 4 KB let the WAL
 * grow to about 40 MB, on disk beside the store and outside its cap, and
 * make checkpoints rare. Durability is unchanged: every commit is still
 * fsynced in the WAL.
 */
export const WAL_CHECKPOINT_PAGES = 10_000;

export interface StoreCounts {
  observations: number;
  unrelayed: number;
  /** Observations with no wall time (no anchor for their boot yet). */
  untimed: number;
  anchors: number;
  rejected: number;
}

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

export class ObservationStore {
  readonly path: string;
  /** Read-only queries for the local API, on this connection. */
  readonly queries: ObservationQueries;
  /** The gateway rules' versions, offsets and state (hosts/gateway/rules/). */
  readonly rules: RuleRows;
  /** The rules' alert outbox. */
  readonly alerts: RuleAlerts;
  readonly #db: Database.Database;
  readonly #anchors: BootAnchors;
  readonly #eviction: StoreEviction;
  readonly #relayRows: RelayRows;
  readonly #tally: StoreTally;
  readonly #open: OpenTransaction;
  readonly #writes: ObservationWrites;
  readonly #highestSeq: Statement<[string], { seq: number | null }>;
  readonly #timedUnrelayed: Statement<[string], { n: number }>;
  readonly #quarantine: StoreQuarantine;
  readonly #walSync: WalSync;
  readonly #checkpointer: WalCheckpointer;

  /**
   * Opens (creating if needed) the store in `dataDir`, migrating its schema
   * and counting its rows once (reading every row: a damaged page shows
   * here, as a StoreCorruptError naming the file); `logger` hears what it
   * holds.
   */
  static open(dataDir: string, logger?: Logger): ObservationStore {
    return new ObservationStore(openDurableDatabase(dataDir, STORE_FILE, MIGRATIONS), join(dataDir, STORE_FILE), logger);
  }

  private constructor(db: Database.Database, path: string, logger?: Logger) {
    this.path = path;
    this.#db = db;
    try {
      this.#tally = scanTally(db, logger);
    } catch (e) {
      db.close();
      throw asStoreFileError(path, e);
    }
    // Commits are made durable by `sync`, off the event loop (see the top of this file).
    db.pragma("synchronous = NORMAL");
    this.#walSync = new WalSync(`${path}-wal`);
    this.queries = new ObservationQueries(db, () => this.#tally.sensors());
    this.#anchors = new BootAnchors(db);
    this.#eviction = new StoreEviction(db);
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    const totalChanges = db.prepare("SELECT total_changes() AS n");
    this.#checkpointer = new WalCheckpointer(path, () => (totalChanges.get() as { n: number }).n);
    this.#relayRows = new RelayRows(db);
    this.#open = new OpenTransaction(db, this.#tally, this.#relayRows, this.#anchors);
    this.#writes = new ObservationWrites(db, this.#open, this.#relayRows);
    this.rules = new RuleRows(db, {
      stored: (id, obs, receivedAt) => this.#writes.stored(id, obs, receivedAt),
      keepLocal: (ids, at) => this.#keepLocal(ids, at),
    });
    this.alerts = new RuleAlerts(db);
    this.#highestSeq = db.prepare("SELECT MAX(seq) AS seq FROM observations WHERE sensor_id = ?");
    this.#quarantine = new StoreQuarantine(db);
    this.#timedUnrelayed = db.prepare(
      "SELECT COUNT(*) AS n FROM observations WHERE id IN (SELECT value FROM json_each(?)) AND relayed_at IS NULL AND time IS NOT NULL",
    );
    if (logger) reportContents(logger, path, this.#tally.counts(), this.queries.latestId());
  }

  /**
   * Resolves once every transaction committed before the call is on disk
   * (one fdatasync of the WAL, shared with the other callers meanwhile);
   * rejects if the disk said no. Acknowledge nothing before it resolves.
   */
  sync(): Promise<void> {
    return this.#walSync.sync();
  }

  /** Runs `work` in one transaction: one commit for a whole batch (durable once `sync` resolves). Nested, it is a savepoint. */
  transaction<T>(work: () => T): T {
    return this.#open.run(work);
  }

  /**
   * Stores one observation unless its (sensorId, seq) is already stored;
   * committed on return unless inside `transaction`. The store keeps `obs`
   * for the relay: the caller must not change it afterwards.
   */
  append(obs: TimedObservation, receivedAt: number): AppendOutcome {
    return this.#writes.append(obs, receivedAt);
  }

  /**
   * As `append` for each observation in turn (receivedAt[i] for
   * observations[i]), many rows to an INSERT (multi-row-insert.ts): what
   * a group commit stores. Each outcome is what `append` would have said
   * at that point, a (sensorId, seq) repeated within the list included.
   * Inside a transaction it is part of it (if it throws, the caller's
   * transaction must roll back, as `transaction` does); outside one, it
   * commits on its own, all or nothing.
   */
  appendAll(observations: readonly TimedObservation[], receivedAt: readonly number[]): AppendOutcome[] {
    return this.#writes.appendAll(observations, receivedAt);
  }

  /** The anchor a boot's times come from, if one has arrived. */
  anchor(sensorId: string, boot: number): BootAnchor | undefined {
    return this.#anchors.get(sensorId, boot);
  }

  /**
   * Offers a boot an anchor (see clock-map.ts for which one it keeps) and,
   * if it is kept, times the boot's unrelayed rows with it; all in one
   * transaction, committed before returning. Relayed rows stay as sent.
   */
  recordAnchor(anchor: BootAnchor): AnchorOutcome {
    const outcome = this.#anchors.record(anchor);
    if (outcome.decision === "adopt") this.#count({ kind: "anchorAdded" });
    if (outcome.filled > 0) this.#count({ kind: "timed", rows: outcome.filled });
    if (outcome.filled + outcome.corrected > 0) this.#open.retimed();
    return outcome;
  }

  /** Keeps a refused payload (truncated to MAX_QUARANTINED_BYTES) with why it was refused. Returns its id. */
  quarantine(entry: QuarantineEntry): number {
    const id = this.#quarantine.add(entry);
    this.#count({ kind: "quarantined" });
    return id;
  }

  /** The oldest observations not yet acknowledged by the cloud, in arrival order. */
  unrelayed(limit: number): StoredObservation[] {
    return this.#relayRows.oldest(limit);
  }

  /**
   * Marks rows, as read by `unrelayed` and sent, acknowledged by the cloud,
   * in one transaction; each keeps the time it was sent with. Returns how
   * many changed.
   */
  markRelayed(rows: readonly Pick<StoredObservation, "id" | "observation">[], at: number): number {
    // A row sent untimed is marked with no time even if an anchor has timed it since: untimed again.
    // Rows no anchor re-timed since they were handed out are as they were sent: none untimed was timed meanwhile.
    const sentUntimed = this.#relayRows.timesAsSent(rows) ? [] : rows.filter((row) => row.observation.time == null).map((row) => row.id);
    const untimedAgain = sentUntimed.length === 0 ? 0 : (this.#timedUnrelayed.get(JSON.stringify(sentUntimed))?.n ?? 0);
    const changed = this.#relayRows.mark(rows, at);
    this.#count({ kind: "relayed", rows: changed, untimedAgain });
    return changed;
  }

  find(sensorId: string, seq: number): StoredObservation | undefined {
    const row = this.#writes.find(sensorId, seq);
    return row && toStored(row);
  }

  /** The sensor's highest stored seq, 0 when it has none (for senders that have no seq of their own). */
  highestSeq(sensorId: string): number {
    return this.#highestSeq.get(sensorId)?.seq ?? 0;
  }

  /** The most recent quarantined payloads, newest first. */
  rejected(limit = 100): RejectedRow[] {
    return this.#quarantine.newest(limit);
  }

  /** The store's figures, from memory: O(1) however many rows it holds. */
  counts(): StoreCounts {
    return this.#tally.counts();
  }

  /** Unrelayed rows, as committed: the outbox's depth. */
  unrelayedCount(): number {
    return this.#tally.unrelayed;
  }

  /** Bytes in use by the database (pages not on the free list); two pragma reads, no table scan. */
  usedBytes(): number {
    return this.#eviction.usedBytes();
  }

  /** The highest observation id committed so far: a reader that has seen it has seen every committed row. */
  get lastRowId(): number {
    return this.#open.lastRowId;
  }

  /** An upper bound on the observation rows (ids are never reused), read from the primary key alone. */
  observationIdSpan(): number {
    return this.#eviction.observationIdSpan();
  }

  /**
   * Deletes up to `rows` of the oldest observations, relayed ones first
   * (the cloud has those), then the oldest unrelayed ones; one transaction.
   */
  evictOldest(rows: number): Eviction {
    // Inside a transaction the tally lags what SQLite holds: then every sensor's newest row is looked up.
    const newestId = this.#db.inTransaction ? () => undefined : (sensorId: string) => this.#tally.newestId(sensorId);
    const { relayed, unrelayed, lost, untimed, sensors } = this.#eviction.evictOldest(rows, newestId);
    this.#count({ kind: "evicted", unrelayed, untimed, sensors });
    if (unrelayed > 0) this.#relayRows.evicted();
    return { relayed, unrelayed, lost };
  }

  /** Deletes the oldest quarantined payloads beyond the newest `maxRows`; returns how many. */
  capQuarantine(maxRows: number): number {
    const evicted = this.#eviction.capQuarantine(maxRows);
    if (evicted > 0) this.#count({ kind: "quarantineEvicted", rows: evicted });
    return evicted;
  }

  /** The durability settings in force on this connection (synchronous: 1 = NORMAL, the WAL's fsync being `sync`'s), for diagnostics. */
  durability(): { journalMode: string; synchronous: number } {
    return durabilityOf(this.#db);
  }

  /** Checkpoints the WAL's worker thread ran (hosts/sqlite/wal-checkpointer.ts), for diagnostics and tests. */
  checkpoints(): CheckpointStats {
    return this.#checkpointer.stats();
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    // First: a checkpoint running in its worker ends before this connection closes (and removes the WAL).
    this.#checkpointer.close();
    if (this.#db.open) this.#db.close();
    this.#walSync.close();
  }

  /** Unrelayed rows a rule kept at the gateway leave the outbox (back in it if the transaction rolls back). */
  #keepLocal(ids: readonly number[], at: number): number[] {
    const kept = this.#relayRows.keepLocal(ids, at);
    if (kept.length > 0) {
      this.#count({ kind: "relayed", rows: kept.length, untimedAgain: 0 });
      this.#open.kept();
    }
    return kept;
  }

  /** A change to the figures: counted once the outermost transaction commits (now, outside one). */
  #count(change: StoreChange): void {
    this.#open.count(change);
  }
}
