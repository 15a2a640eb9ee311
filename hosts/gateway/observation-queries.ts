/*
 * Read-only queries over the gateway's store for the local API: pages of
 * observations by id, the most recent ones, and one summary per sensor.
 * They share the store's connection (ObservationStore.queries) and never
 * write, so the API cannot change what the store has promised devices.
 */
import type Database from "better-sqlite3";
import type { Reading } from "../../modules/observation/record.js";
import { toStored, type ObservationRow, type StoredObservation } from "./store-schema.js";

/** What the store knows of one sensor. */
export interface SensorSummary {
  sensorId: string;
  observations: number;
  /** The highest seq stored. */
  lastSeq: number;
  /** Gateway clock when its newest row arrived. */
  lastReceivedAt: number;
  /** Wall time of its newest row, null while untimed. */
  lastTime: number | null;
  lastReadings: Reading[];
}

interface SummaryRow extends ObservationRow {
  n: number;
  max_seq: number;
}

export class ObservationQueries {
  readonly #after: Database.Statement<[number, number], ObservationRow>;
  readonly #afterOf: Database.Statement<[string, number, number], ObservationRow>;
  readonly #recent: Database.Statement<[number], ObservationRow>;
  readonly #recentOf: Database.Statement<[string, number], ObservationRow>;
  readonly #latest: Database.Statement<[], { id: number | null }>;
  readonly #summaries: Database.Statement<[], SummaryRow>;

  constructor(db: Database.Database) {
    this.#after = db.prepare("SELECT * FROM observations WHERE id > ? ORDER BY id LIMIT ?");
    this.#afterOf = db.prepare("SELECT * FROM observations WHERE sensor_id = ? AND id > ? ORDER BY id LIMIT ?");
    this.#recent = db.prepare("SELECT * FROM observations ORDER BY id DESC LIMIT ?");
    this.#recentOf = db.prepare("SELECT * FROM observations WHERE sensor_id = ? ORDER BY id DESC LIMIT ?");
    this.#latest = db.prepare("SELECT MAX(id) AS id FROM observations");
    // Grouping walks the (sensor_id, seq) index; the join then reads one row per sensor.
    this.#summaries = db.prepare(
      `SELECT o.*, s.n, s.max_seq FROM
         (SELECT sensor_id, COUNT(*) AS n, MAX(seq) AS max_seq, MAX(id) AS last_id FROM observations GROUP BY sensor_id) s
       JOIN observations o ON o.id = s.last_id ORDER BY o.sensor_id`,
    );
  }

  /** Observations with an id above `id`, oldest first (optionally of one sensor). */
  after(id: number, limit: number, sensorId?: string): StoredObservation[] {
    const rows = sensorId === undefined ? this.#after.all(id, limit) : this.#afterOf.all(sensorId, id, limit);
    return rows.map(toStored);
  }

  /** The newest observations, newest first (optionally of one sensor). */
  recent(limit: number, sensorId?: string): StoredObservation[] {
    const rows = sensorId === undefined ? this.#recent.all(limit) : this.#recentOf.all(sensorId, limit);
    return rows.map(toStored);
  }

  /** The id of the newest observation; 0 when there is none. */
  latestId(): number {
    return this.#latest.get()?.id ?? 0;
  }

  sensorSummaries(): SensorSummary[] {
    return this.#summaries.all().map((row) => {
      const { observation } = toStored(row);
      return {
        sensorId: row.sensor_id,
        observations: row.n,
        lastSeq: row.max_seq,
        lastReceivedAt: row.received_at,
        lastTime: observation.time ?? null,
        lastReadings: observation.readings,
      };
    });
  }
}
