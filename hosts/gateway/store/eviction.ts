/*
 * What the disk cap (disk-cap.ts) needs of the gateway's store: how much
 * of the disk it uses, and deleting the oldest rows. Reached through
 * ObservationStore, which owns the connection; none of it is on the ingest
 * path, so statements are prepared when used.
 */
import type Database from "better-sqlite3";
import type { EvictedShare } from "./tally.js";

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

/** `evictOldest`'s whole answer: also the untimed rows among those deleted, and every sensor's share. */
export interface EvictionDetail extends Eviction {
  untimed: number;
  sensors: EvictedShare[];
}

/** Sensors named per eviction in the log; the counts cover every row either way. */
export const MAX_EVICTED_RANGES = 20;

export class StoreEviction {
  readonly #db: Database.Database;
  /**
   * One statement prepared once: the cap is checked after every commit, and `db.pragma()` compiles its statement
   * on every call (three of them cost 16 µs a commit here, this one 4).
   */
  readonly #usedBytes: Database.Statement<[], { n: number }>;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#usedBytes = db.prepare<[], { n: number }>(
      "SELECT (c.page_count - f.freelist_count) * s.page_size AS n FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s",
    );
  }

  /** Bytes in use by the database (pages not on the free list); pragma reads, no table scan. */
  usedBytes(): number {
    return this.#usedBytes.get()!.n;
  }

  /** An upper bound on the observation rows (ids are never reused), read from the primary key alone. */
  observationIdSpan(): number {
    const row = this.#db.prepare<[], { span: number | null }>("SELECT max(id) - min(id) + 1 AS span FROM observations").get();
    return row?.span ?? 0;
  }

  /**
   * Deletes up to `rows` of the oldest observations, relayed ones first
   * (the cloud has those), then the oldest unrelayed ones; one transaction.
   * Also says, for the store's figures (tally.ts), what each sensor
   * lost and has left: work bounded by the rows deleted, not the store.
   */
  evictOldest(rows: number, newestId: (sensorId: string) => number | undefined): EvictionDetail {
    return this.#db.transaction((): EvictionDetail => {
      const relayed = this.#evictPhase("SELECT id FROM observations WHERE relayed_at IS NOT NULL ORDER BY id LIMIT ?", rows);
      const rest = rows - relayed.rows;
      const unrelayed = rest > 0 ? this.#evictPhase("SELECT id FROM observations WHERE relayed_at IS NULL ORDER BY id LIMIT ?", rest) : NOTHING;
      const lost = [...unrelayed.shares]
        .sort((a, b) => a.firstId - b.firstId)
        .slice(0, MAX_EVICTED_RANGES)
        .map(({ sensorId, firstSeq, lastSeq, rows: count }) => ({ sensorId, firstSeq, lastSeq, count }));
      const touched = new Map<string, { rows: number; lastId: number }>();
      for (const share of [...relayed.shares, ...unrelayed.shares]) {
        const seen = touched.get(share.sensorId);
        touched.set(share.sensorId, { rows: (seen?.rows ?? 0) + share.rows, lastId: Math.max(seen?.lastId ?? 0, share.lastId) });
      }
      const sensors = [...touched].map(([sensorId, share]): EvictedShare => ({
        sensorId,
        rows: share.rows,
        remaining: this.#remaining(sensorId, share.lastId, newestId(sensorId)),
      }));
      return { relayed: relayed.rows, unrelayed: unrelayed.rows, lost, untimed: relayed.untimed + unrelayed.untimed, sensors };
    })();
  }

  /** Deletes the oldest quarantined payloads beyond the newest `maxRows`; returns how many. */
  capQuarantine(maxRows: number): number {
    // Ids are never reused (AUTOINCREMENT), so "beyond the newest maxRows" is an id range: no count, no scan.
    return this.#db.prepare<[number]>("DELETE FROM rejected WHERE id <= (SELECT max(id) FROM rejected) - ?").run(maxRows).changes;
  }

  /** Deletes the rows `ids` selects (`ids` takes the row limit), having counted them per sensor. */
  #evictPhase(ids: string, limit: number): EvictedPhase {
    const shares = this.#db
      .prepare<[number], PhaseShare>(
        `SELECT sensor_id AS sensorId, count(*) AS rows, sum(time IS NULL) AS untimed, min(seq) AS firstSeq, max(seq) AS lastSeq, min(id) AS firstId, max(id) AS lastId
         FROM observations WHERE id IN (${ids}) GROUP BY sensor_id`,
      )
      .all(limit);
    const deleted = this.#db.prepare<[number]>(`DELETE FROM observations WHERE id IN (${ids})`).run(limit).changes;
    return { rows: deleted, untimed: shares.reduce((n, share) => n + share.untimed, 0), shares };
  }

  /**
   * What is left of a sensor after an eviction. Its highest seq is one
   * lookup at the end of the (sensor_id, seq) index. Its newest row's id has
   * no index of its own (one more index entry per insert would cost the
   * ingest path), so it is only searched for when that row was among those
   * deleted: then the search walks what is left of the sensor, which is
   * nothing (oldest-first eviction took everything older) or the unrelayed
   * rows older than a relayed newest one.
   */
  #remaining(sensorId: string, evictedLastId: number, newestId: number | undefined): EvictedShare["remaining"] {
    const lastSeq = this.#db.prepare<[string], { n: number | null }>("SELECT max(seq) AS n FROM observations WHERE sensor_id = ?").get(sensorId)?.n;
    if (lastSeq == null) return null;
    if (newestId !== undefined && evictedLastId < newestId) return { lastSeq, lastId: newestId };
    const lastId = this.#db.prepare<[string], { n: number | null }>("SELECT max(id) AS n FROM observations WHERE sensor_id = ?").get(sensorId)?.n;
    return lastId == null ? null : { lastSeq, lastId };
  }
}

interface PhaseShare {
  sensorId: string;
  rows: number;
  untimed: number;
  firstSeq: number;
  lastSeq: number;
  firstId: number;
  lastId: number;
}

interface EvictedPhase {
  rows: number;
  untimed: number;
  shares: PhaseShare[];
}

const NOTHING: EvictedPhase = { rows: 0, untimed: 0, shares: [] };
