/*
 * The gateway's durable store: every observation it has acknowledged to a
 * device, the clock anchor of each device boot, and a quarantine of every
 * payload it refused.
 *
 * The broker only sends a PUBACK after `append` or `recordAnchor` returns,
 * so what this file commits is the gateway's promise to the device. Hence
 * `synchronous=FULL`: in WAL mode NORMAL may lose the last transactions on
 * power loss, and an acknowledged record lost that way is one the device has
 * already deleted from its flash. The cost is one fsync per commit, shared
 * by every publish in a group commit (ingest-queue.ts).
 *
 * Synchronous and timer-free on purpose: callers decide when to call it.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { openDurableDatabase } from "../sqlite/durable-database.js";
import type { TimedObservation } from "../../modules/observation/record.js";
import type { TimeSource } from "../../modules/observation/observation-json.js";
import { chooseAnchor, type AnchorDecision, type BootAnchor } from "./clock-map.js";
import { ObservationQueries } from "./observation-queries.js";
import {
  MIGRATIONS, toAnchor, toRejected, toStored, type AnchorRow, type ObservationRow, type QuarantineEntry, type RejectedDbRow,
  type RejectedRow, type StoredObservation,
} from "./store-schema.js";

export { SCHEMA_VERSION, type QuarantineEntry, type RejectedRow, type StoredObservation } from "./store-schema.js";
export { StoreVersionError } from "../sqlite/durable-database.js";

/** File name under the data directory. */
export const STORE_FILE = "observations.db";

/**
 * Quarantined payloads keep at most this many bytes (and their true size).
 * A valid record is under 256 bytes; a refused one may be anything up to the
 * broker's packet limit, and the quarantine must not become a way to fill
 * the gateway's SD card.
 */
export const MAX_QUARANTINED_BYTES = 1024;

/** Topics are kept to this many characters in the quarantine, for the same reason. */
export const MAX_QUARANTINED_TOPIC = 256;

/**
 * What `append` did. "duplicate": the same (sensorId, seq) with the same
 * content, i.e. a device retry after a lost PUBACK. "conflict": the same
 * (sensorId, seq) with different content (a device whose sequence counter
 * went backwards); it is not stored, and the caller must keep it elsewhere
 * rather than acknowledge it as if it had been.
 */
export type AppendOutcome = "stored" | "duplicate" | "conflict";

/** What `recordAnchor` did: the decision, and how many unrelayed rows of the boot got a time or a better one. */
export interface AnchorOutcome {
  decision: AnchorDecision;
  /** Rows that had no time and now have one. */
  filled: number;
  /** Rows whose time changed to the new anchor's (a device anchor replacing a gateway one, say). */
  corrected: number;
}

/** One sensor's share of evicted unrelayed rows, for the log line that says what was lost. */
export interface EvictedRange {
  sensorId: string;
  firstSeq: number;
  lastSeq: number;
  count: number;
}

/** What `evictOldest` deleted. */
export interface Eviction {
  relayed: number;
  unrelayed: number;
  /** Per sensor, the unrelayed rows lost (at most MAX_EVICTED_RANGES sensors are listed). */
  lost: EvictedRange[];
}

/** Sensors named per eviction in the log; the counts cover every row either way. */
export const MAX_EVICTED_RANGES = 20;

export interface StoreCounts {
  observations: number;
  unrelayed: number;
  /** Observations with no wall time (no anchor for their boot yet). */
  untimed: number;
  anchors: number;
  rejected: number;
}

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;
type BootParams = { offset: number; source: TimeSource; sensorId: string; boot: number };
type MarkParams = { at: number; id: number; time: number | null; source: TimeSource | null };

export class ObservationStore {
  readonly path: string;
  /** Read-only queries for the local API, on this connection. */
  readonly queries: ObservationQueries;
  readonly #db: Database.Database;
  readonly #insert: Statement<[string, number, number, number, number | null, TimeSource | null, string, number]>;
  readonly #byKey: Statement<[string, number], ObservationRow>;
  readonly #highestSeq: Statement<[string], { seq: number | null }>;
  readonly #unrelayed: Statement<[number], ObservationRow>;
  readonly #markOne: Statement<[MarkParams]>;
  readonly #quarantine: Statement<[number, string | null, string, string, string | null, string, number, Buffer]>;
  readonly #anchor: Statement<[string, number], AnchorRow>;
  readonly #putAnchor: Statement<[AnchorRow]>;
  readonly #fill: Statement<[BootParams]>;
  readonly #correct: Statement<[BootParams]>;

  /** Opens (creating if needed) the store in `dataDir`, migrating its schema. */
  static open(dataDir: string): ObservationStore {
    return new ObservationStore(openDurableDatabase(dataDir, STORE_FILE, MIGRATIONS), join(dataDir, STORE_FILE));
  }

  private constructor(db: Database.Database, path: string) {
    this.path = path;
    this.#db = db;
    this.queries = new ObservationQueries(db);
    this.#insert = db.prepare(
      `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sensor_id, seq) DO NOTHING`,
    );
    this.#byKey = db.prepare("SELECT * FROM observations WHERE sensor_id = ? AND seq = ?");
    this.#highestSeq = db.prepare("SELECT MAX(seq) AS seq FROM observations WHERE sensor_id = ?");
    this.#unrelayed = db.prepare("SELECT * FROM observations WHERE relayed_at IS NULL ORDER BY id LIMIT ?");
    // The row keeps the time it was relayed with: an anchor that arrived while
    // the batch was in flight must not leave the gateway claiming a time the
    // cloud never got.
    this.#markOne = db.prepare(
      "UPDATE observations SET relayed_at = @at, time = @time, time_source = @source WHERE id = @id AND relayed_at IS NULL",
    );
    this.#quarantine = db.prepare(
      `INSERT INTO rejected (received_at, client_id, topic, reason, field, detail, size, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#anchor = db.prepare("SELECT * FROM clock_anchors WHERE sensor_id = ? AND boot = ?");
    this.#putAnchor = db.prepare(
      `INSERT OR REPLACE INTO clock_anchors (sensor_id, boot, source, offset_ms, uptime_ms, wall_ms, received_at)
       VALUES (@sensor_id, @boot, @source, @offset_ms, @uptime_ms, @wall_ms, @received_at)`,
    );
    const boot = "sensor_id = @sensorId AND boot = @boot AND relayed_at IS NULL";
    this.#fill = db.prepare(`UPDATE observations SET time = @offset + uptime_ms, time_source = @source WHERE ${boot} AND time IS NULL`);
    this.#correct = db.prepare(
      `UPDATE observations SET time = @offset + uptime_ms, time_source = @source
       WHERE ${boot} AND time IS NOT NULL AND (time != @offset + uptime_ms OR time_source IS NOT @source)`,
    );
  }

  /** Runs `work` in one transaction: one commit (one fsync) for a whole batch. Nested, it is a savepoint. */
  transaction<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  /** Stores one observation unless its (sensorId, seq) is already stored; committed on return unless inside `transaction`. */
  append(obs: TimedObservation, receivedAt: number): AppendOutcome {
    const readings = JSON.stringify(obs.readings);
    const result = this.#insert.run(obs.sensorId, obs.seq, obs.boot, obs.uptimeMs, obs.time ?? null, obs.timeSource ?? null, readings, receivedAt);
    if (result.changes === 1) return "stored";
    const existing = this.#byKey.get(obs.sensorId, obs.seq);
    // Only what the device sent counts: the time is the gateway's, and may
    // have been filled in (or not, once relayed) since the first receipt.
    const same = existing !== undefined && existing.boot === obs.boot && existing.uptime_ms === obs.uptimeMs && existing.readings === readings;
    return same ? "duplicate" : "conflict";
  }

  /** The anchor a boot's times come from, if one has arrived. */
  anchor(sensorId: string, boot: number): BootAnchor | undefined {
    const row = this.#anchor.get(sensorId, boot);
    return row && toAnchor(row);
  }

  /**
   * Offers a boot an anchor (see clock-map.ts for which one it keeps) and,
   * if it is kept, times the boot's unrelayed rows with it; all in one
   * transaction, committed before returning. Relayed rows stay as sent.
   */
  recordAnchor(anchor: BootAnchor): AnchorOutcome {
    return this.#db.transaction((): AnchorOutcome => {
      const decision = chooseAnchor(this.anchor(anchor.sensorId, anchor.boot), anchor);
      if (decision === "keep") return { decision, filled: 0, corrected: 0 };
      this.#putAnchor.run({
        sensor_id: anchor.sensorId,
        boot: anchor.boot,
        source: anchor.source,
        offset_ms: anchor.offsetMs,
        uptime_ms: anchor.uptimeMs,
        wall_ms: anchor.wallMs,
        received_at: anchor.receivedAt,
      });
      const params: BootParams = { offset: anchor.offsetMs, source: anchor.source, sensorId: anchor.sensorId, boot: anchor.boot };
      return { decision, filled: this.#fill.run(params).changes, corrected: this.#correct.run(params).changes };
    })();
  }

  /** Keeps a refused payload (truncated to MAX_QUARANTINED_BYTES) with why it was refused. Returns its id. */
  quarantine(entry: QuarantineEntry): number {
    const raw = Buffer.from(entry.payload.buffer, entry.payload.byteOffset, Math.min(entry.payload.byteLength, MAX_QUARANTINED_BYTES));
    const result = this.#quarantine.run(
      entry.receivedAt,
      entry.clientId,
      entry.topic.slice(0, MAX_QUARANTINED_TOPIC),
      entry.reason,
      entry.field,
      entry.detail,
      entry.payload.byteLength,
      raw,
    );
    return Number(result.lastInsertRowid);
  }

  /** The oldest observations not yet acknowledged by the cloud, in arrival order. */
  unrelayed(limit: number): StoredObservation[] {
    return this.#unrelayed.all(limit).map(toStored);
  }

  /**
   * Marks rows, as read by `unrelayed` and sent, acknowledged by the cloud,
   * in one transaction; each keeps the time it was sent with. Returns how
   * many changed.
   */
  markRelayed(rows: readonly Pick<StoredObservation, "id" | "observation">[], at: number): number {
    if (rows.length === 0) return 0;
    // A relayed mark lost to a power cut only means a resend, which the
    // cloud deduplicates: it need not wait for its own fsync (the next
    // ingest commit, at synchronous=FULL, syncs the WAL with it anyway).
    this.#db.pragma("synchronous = NORMAL");
    try {
      return this.#db.transaction(() => {
        let changed = 0;
        for (const { id, observation } of rows) {
          changed += this.#markOne.run({ at, id, time: observation.time ?? null, source: observation.timeSource ?? null }).changes;
        }
        return changed;
      })();
    } finally {
      this.#db.pragma("synchronous = FULL");
    }
  }

  find(sensorId: string, seq: number): StoredObservation | undefined {
    const row = this.#byKey.get(sensorId, seq);
    return row && toStored(row);
  }

  /** The sensor's highest stored seq, 0 when it has none (for senders that have no seq of their own). */
  highestSeq(sensorId: string): number {
    return this.#highestSeq.get(sensorId)?.seq ?? 0;
  }

  /** The most recent quarantined payloads, newest first. */
  rejected(limit = 100): RejectedRow[] {
    const rows = this.#db.prepare<[number], RejectedDbRow>("SELECT * FROM rejected ORDER BY id DESC LIMIT ?").all(limit);
    return rows.map(toRejected);
  }

  counts(): StoreCounts {
    const one = (sql: string) => (this.#db.prepare<[], { n: number }>(sql).get() as { n: number }).n;
    return {
      observations: one("SELECT COUNT(*) AS n FROM observations"),
      unrelayed: one("SELECT COUNT(*) AS n FROM observations WHERE relayed_at IS NULL"),
      untimed: one("SELECT COUNT(*) AS n FROM observations WHERE time IS NULL"),
      anchors: one("SELECT COUNT(*) AS n FROM clock_anchors"),
      rejected: one("SELECT COUNT(*) AS n FROM rejected"),
    };
  }

  /** Unrelayed rows, counted (once, at open: the outbox keeps the number in memory after that). */
  unrelayedCount(): number {
    return (this.#db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM observations WHERE relayed_at IS NULL").get() as { n: number }).n;
  }

  /** Bytes in use by the database (pages not on the free list); two pragma reads, no table scan. */
  usedBytes(): number {
    const pages = this.#db.pragma("page_count", { simple: true }) as number;
    const free = this.#db.pragma("freelist_count", { simple: true }) as number;
    return (pages - free) * (this.#db.pragma("page_size", { simple: true }) as number);
  }

  /** An upper bound on the observation rows (ids are never reused), read from the primary key alone. */
  observationIdSpan(): number {
    const row = this.#db.prepare<[], { span: number | null }>("SELECT max(id) - min(id) + 1 AS span FROM observations").get();
    return row?.span ?? 0;
  }

  /**
   * Deletes up to `rows` of the oldest observations, relayed ones first
   * (the cloud has those), then the oldest unrelayed ones; one transaction.
   */
  evictOldest(rows: number): Eviction {
    return this.#db.transaction((): Eviction => {
      const relayed = this.#db
        .prepare<[number]>("DELETE FROM observations WHERE id IN (SELECT id FROM observations WHERE relayed_at IS NOT NULL ORDER BY id LIMIT ?)")
        .run(rows).changes;
      const rest = rows - relayed;
      if (rest <= 0) return { relayed, unrelayed: 0, lost: [] };
      const oldest = "SELECT id, sensor_id, seq FROM observations WHERE relayed_at IS NULL ORDER BY id LIMIT ?";
      const lost = this.#db
        .prepare<[number, number], { sensorId: string; firstSeq: number; lastSeq: number; count: number }>(
          `SELECT sensor_id AS sensorId, min(seq) AS firstSeq, max(seq) AS lastSeq, count(*) AS count
           FROM (${oldest}) GROUP BY sensor_id ORDER BY min(id) LIMIT ?`,
        )
        .all(rest, MAX_EVICTED_RANGES);
      const unrelayed = this.#db.prepare<[number]>(`DELETE FROM observations WHERE id IN (SELECT id FROM (${oldest}))`).run(rest).changes;
      return { relayed, unrelayed, lost };
    })();
  }

  /** Deletes the oldest quarantined payloads beyond the newest `maxRows`; returns how many. */
  capQuarantine(maxRows: number): number {
    // Ids are never reused (AUTOINCREMENT), so "beyond the newest maxRows" is an id range: no count, no scan.
    return this.#db.prepare<[number]>("DELETE FROM rejected WHERE id <= (SELECT max(id) FROM rejected) - ?").run(maxRows).changes;
  }

  /** The durability settings in force on this connection (synchronous: 2 = FULL), for diagnostics. */
  durability(): { journalMode: string; synchronous: number } {
    return {
      journalMode: this.#db.pragma("journal_mode", { simple: true }) as string,
      synchronous: this.#db.pragma("synchronous", { simple: true }) as number,
    };
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
