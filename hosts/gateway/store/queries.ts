/*
 * Read-only queries over the gateway's store for the local API: pages of
 * observations by id, the most recent ones, and one summary per sensor.
 * They share the store's connection (ObservationStore.queries) and never
 * write, so the API cannot change what the store has promised devices.
 *
 * The ones the dashboard polls and /metrics reads cost O(log n) (plus the
 * rows they return) whatever the store holds, because the event loop that
 * runs them also sends every device's PUBACK: the per-sensor figures come
 * from the store's tally (tally.ts), each sensor's newest row is read
 * by id, its recent rows walk the (sensor_id, seq) index back. One sensor's
 * page after an id still sorts that sensor's rows past the id (6 ms for
 * 100,000 of them here; bench/api-figures.ts): an index on (sensor_id, id)
 * would cost every insert on the ingest path instead.
 */
import type Database from "better-sqlite3";
import type { Reading } from "../../../modules/observation/record.js";
import { toStored, type ObservationRow, type StoredObservation } from "./schema.js";
import type { SensorTally } from "./tally.js";

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

export class ObservationQueries {
  readonly #after: Database.Statement<[number, number], ObservationRow>;
  readonly #afterOf: Database.Statement<[string, number, number], ObservationRow>;
  readonly #recent: Database.Statement<[number], ObservationRow>;
  readonly #recentOf: Database.Statement<[string, number], ObservationRow>;
  readonly #latest: Database.Statement<[], { id: number | null }>;
  readonly #byId: Database.Statement<[number], ObservationRow>;
  readonly #sensors: () => readonly ({ sensorId: string } & SensorTally)[];

  /** `sensors`: every sensor with rows and its tally, by sensor id. */
  constructor(db: Database.Database, sensors: () => readonly ({ sensorId: string } & SensorTally)[]) {
    this.#sensors = sensors;
    this.#after = db.prepare("SELECT * FROM observations WHERE id > ? ORDER BY id LIMIT ?");
    this.#afterOf = db.prepare("SELECT * FROM observations WHERE sensor_id = ? AND id > ? ORDER BY id LIMIT ?");
    this.#recent = db.prepare("SELECT * FROM observations ORDER BY id DESC LIMIT ?");
    // Newest first by the sensor's own seq: a walk back along the (sensor_id, seq)
    // index, O(log n + limit). By id it would sort all of the sensor's rows
    // (an index on (sensor_id, id) would cost every insert on the ingest path).
    // The two orders agree but for records that arrive out of seq order.
    this.#recentOf = db.prepare("SELECT * FROM observations WHERE sensor_id = ? ORDER BY seq DESC LIMIT ?");
    this.#latest = db.prepare("SELECT MAX(id) AS id FROM observations");
    this.#byId = db.prepare("SELECT * FROM observations WHERE id = ?");
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

  /** One summary per sensor with rows, by sensor id: O(sensors × log n). */
  sensorSummaries(): SensorSummary[] {
    return this.#sensors().map((sensor) => {
      const row = this.#byId.get(sensor.lastId);
      // The tally follows every change the store commits; a row it names and SQLite lacks is a bug to see, not to paper over.
      if (row === undefined) throw new Error(`sensor ${sensor.sensorId}: its newest row ${sensor.lastId} is not in the store`);
      const { observation } = toStored(row);
      return {
        sensorId: sensor.sensorId,
        observations: sensor.observations,
        lastSeq: sensor.lastSeq,
        lastReceivedAt: row.received_at,
        lastTime: observation.time ?? null,
        lastReadings: observation.readings,
      };
    });
  }
}
