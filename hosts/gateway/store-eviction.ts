/*
 * What the disk cap (disk-cap.ts) needs of the gateway's store: how much
 * of the disk it uses, and deleting the oldest rows. Reached through
 * ObservationStore, which owns the connection; none of it is on the ingest
 * path, so statements are prepared when used.
 */
import type Database from "better-sqlite3";

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

export class StoreEviction {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
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
}
