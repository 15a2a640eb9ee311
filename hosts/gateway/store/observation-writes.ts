/*
 * The store's inserts of observations: one at a time (`append`), or the
 * rows of a group commit many to an INSERT (`appendAll`,
 * multi-row-insert.ts), each telling a device's retry of a stored
 * observation from a conflicting one. Every row inserted, a rule's derived
 * ones too, goes through `stored`, which stages it for the relay and counts
 * it (open-transaction.ts).
 */
import type Database from "better-sqlite3";
import type { TimedObservation } from "../../../modules/observation/record.js";
import type { TimeSource } from "../../../modules/observation/observation-json.js";
import { MultiRowInsert } from "./multi-row-insert.js";
import type { OpenTransaction } from "./open-transaction.js";
import type { RelayRows } from "./relay-rows.js";
import type { ObservationRow, StoredObservation } from "./schema.js";

/**
 * What `append` did. "duplicate": the same (sensorId, seq) with the same
 * content, i.e. a device retry after a lost PUBACK. "conflict": the same
 * (sensorId, seq) with different content (a device whose sequence counter
 * went backwards); it is not stored, and the caller must keep it elsewhere
 * rather than acknowledge it as if it had been.
 */
export type AppendOutcome = "stored" | "duplicate" | "conflict";

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

export class ObservationWrites {
  readonly #db: Database.Database;
  readonly #open: OpenTransaction;
  readonly #relayRows: RelayRows;
  readonly #insert: Statement<[string, number, number, number, number | null, TimeSource | null, string, number]>;
  readonly #insertMany: MultiRowInsert;
  readonly #byKey: Statement<[string, number], ObservationRow>;

  constructor(db: Database.Database, open: OpenTransaction, relayRows: RelayRows) {
    this.#db = db;
    this.#open = open;
    this.#relayRows = relayRows;
    this.#insert = db.prepare(
      `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sensor_id, seq) DO NOTHING`,
    );
    this.#insertMany = new MultiRowInsert(db);
    this.#byKey = db.prepare("SELECT * FROM observations WHERE sensor_id = ? AND seq = ?");
  }

  /** The row stored under (sensorId, seq), if any. */
  find(sensorId: string, seq: number): ObservationRow | undefined {
    return this.#byKey.get(sensorId, seq);
  }

  /** See ObservationStore.append. */
  append(obs: TimedObservation, receivedAt: number): AppendOutcome {
    const readings = JSON.stringify(obs.readings);
    const result = this.#insert.run(obs.sensorId, obs.seq, obs.boot, obs.uptimeMs, obs.time ?? null, obs.timeSource ?? null, readings, receivedAt);
    if (result.changes === 1) {
      this.stored(Number(result.lastInsertRowid), obs, receivedAt);
      return "stored";
    }
    const existing = this.#byKey.get(obs.sensorId, obs.seq);
    // Only what the device sent counts: the time is the gateway's, and may
    // have been filled in (or not, once relayed) since the first receipt.
    const same = existing !== undefined && existing.boot === obs.boot && existing.uptime_ms === obs.uptimeMs && existing.readings === readings;
    return same ? "duplicate" : "conflict";
  }

  /** See ObservationStore.appendAll. */
  appendAll(observations: readonly TimedObservation[], receivedAt: readonly number[]): AppendOutcome[] {
    // No savepoint inside the caller's transaction: it would make SQLite copy every page the rows change (see multi-row-insert.ts).
    return this.#db.inTransaction ? this.#appendAll(observations, receivedAt) : this.#open.run(() => this.#appendAll(observations, receivedAt));
  }

  /** A row was inserted: staged for the relay (from memory once committed) and counted. */
  stored(id: number, obs: TimedObservation, receivedAt: number): StoredObservation {
    const row = this.#relayRows.row(id, obs, receivedAt);
    this.#open.stored(row, { kind: "stored", sensorId: obs.sensorId, seq: obs.seq, id, untimed: obs.time == null });
    return row;
  }

  #appendAll(observations: readonly TimedObservation[], receivedAt: readonly number[]): AppendOutcome[] {
    const readings = observations.map((obs) => JSON.stringify(obs.readings));
    const outcomes: AppendOutcome[] = new Array(observations.length);
    for (let at = 0; at < observations.length; ) {
      const size = MultiRowInsert.chunkSize(observations, at);
      const lastId = size > 1 ? this.#insertMany.insert(observations, readings, receivedAt, at, size) : undefined;
      for (let i = at; i < at + size; i++) {
        if (lastId === undefined) outcomes[i] = this.append(observations[i], receivedAt[i]);
        else {
          this.stored(lastId - size + 1 + (i - at), observations[i], receivedAt[i]);
          outcomes[i] = "stored";
        }
      }
      at += size;
    }
    return outcomes;
  }
}
