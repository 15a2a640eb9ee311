/*
 * The cloud's two event streams, as Akka Projection gRPC serves them, read
 * from the cloud's SQLite file (cloud-store.ts owns the schema):
 *
 *   registration-events  every registration, persistence id
 *                        `Registration|<sensorId>`, seq_nr 1, 2, ... per
 *                        sensor, payload iot.registration.Registered
 *                        whose secret.value is the secret's digest,
 *                        "sha256:<hex>" (the cloud keeps no secret)
 *   temperature-events   every stored observation, persistence id
 *                        `Sensor|<sensorId>`, seq_nr = its seq, payload the
 *                        Any it arrived in (gRPC) or an ObservationRecorded
 *                        built from it (HTTP)
 *
 * Each event has the cloud's own timestamp in microseconds, strictly
 * increasing in commit order (JournalClock), so "after offset (t, seen)"
 * means exactly "not yet sent". An edge's timestamps cannot serve: events
 * from two gateways arrive out of their order.
 */
import type Database from "better-sqlite3";
import type { AnyMessage } from "../../../hosts/grpc/messages.js";
import { packAny, REGISTERED } from "../../../hosts/grpc/payload.js";
import { persistenceIdOf, sliceOf } from "../../../hosts/grpc/persistence-id.js";
import { observationFromRow, type ObservationColumns } from "../../../hosts/sqlite/observation-row.js";
import { observationToJson } from "../../../modules/observation/observation-json.js";
import { recordedPayloadOf } from "./observation-payload.js";

export const REGISTRATION_STREAM = "registration-events";
export const TEMPERATURE_STREAM = "temperature-events";
export const STREAM_IDS: readonly string[] = Object.freeze([REGISTRATION_STREAM, TEMPERATURE_STREAM]);
export const REGISTRATION_ENTITY = "Registration";
export const SENSOR_ENTITY = "Sensor";

export interface JournalEvent {
  persistenceId: string;
  seqNr: number;
  slice: number;
  /** The cloud's timestamp, µs since the epoch; unique within the cloud. */
  micros: number;
  payload: AnyMessage;
}

/**
 * Hands out strictly increasing microsecond timestamps: the wall clock when
 * it has moved on, else one more than the last (several events in one
 * millisecond, or a clock stepped back, still get distinct, ordered ones).
 */
export class JournalClock {
  #last: number;
  constructor(last: number) {
    this.#last = last;
  }
  next(nowMicros: number): number {
    this.#last = Math.max(Math.floor(nowMicros), this.#last + 1);
    return this.#last;
  }
}

export function wallMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

interface RegistrationRow {
  event_us: number;
  persistence_id: string;
  seq_nr: number;
  slice: number;
  secret_digest: string;
}

interface ObservationEventRow extends ObservationColumns {
  event_us: number;
  slice: number;
  payload_type: string | null;
  payload: Buffer | null;
  gateway_received_at: number | null;
}

function registrationEvent(row: RegistrationRow): JournalEvent {
  const payload = packAny(REGISTERED, { secret: { value: row.secret_digest } });
  return { persistenceId: row.persistence_id, seqNr: row.seq_nr, slice: row.slice, micros: row.event_us, payload };
}

function observationEvent(row: ObservationEventRow): JournalEvent {
  const payload: AnyMessage =
    row.payload_type !== null && row.payload !== null
      ? { type_url: row.payload_type, value: row.payload }
      : recordedPayloadOf({ ...observationToJson(observationFromRow(row)), receivedAt: row.gateway_received_at });
  return { persistenceId: persistenceIdOf(SENSOR_ENTITY, row.sensor_id), seqNr: row.seq, slice: row.slice, micros: row.event_us, payload };
}

const OBSERVATION_COLUMNS = "sensor_id, seq, boot, uptime_ms, readings, time, time_source, event_us, slice, payload_type, payload, gateway_received_at";

export class EventJournal {
  readonly #db: Database.Database;
  readonly #clock: JournalClock;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#backfill();
    const last = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    this.#clock = new JournalClock(Math.max(last("SELECT COALESCE(MAX(event_us), 0) AS n FROM registration_events"), last("SELECT COALESCE(MAX(event_us), 0) AS n FROM observations")));
  }

  /** The next event timestamp; call inside the transaction that stores the event. */
  nextMicros(): number {
    return this.#clock.next(wallMicros());
  }

  /** Appends a registration event (the sensor's next seq_nr); call inside the registration's transaction. */
  appendRegistration(sensorId: string, secretDigest: string): JournalEvent {
    const persistenceId = persistenceIdOf(REGISTRATION_ENTITY, sensorId);
    const seqNr = (this.#db.prepare("SELECT COALESCE(MAX(seq_nr), 0) + 1 AS n FROM registration_events WHERE persistence_id = ?").get(persistenceId) as { n: number }).n;
    const row: RegistrationRow = { event_us: this.nextMicros(), persistence_id: persistenceId, seq_nr: seqNr, slice: sliceOf(persistenceId), secret_digest: secretDigest };
    this.#db
      .prepare("INSERT INTO registration_events (event_us, persistence_id, seq_nr, slice, sensor_id, secret_digest) VALUES (?, ?, ?, ?, ?, ?)")
      .run(row.event_us, persistenceId, seqNr, row.slice, sensorId, secretDigest);
    return registrationEvent(row);
  }

  /** Events of `stream` with timestamp >= fromMicros in slices sliceMin..sliceMax, oldest first. */
  read(stream: string, fromMicros: number, sliceMin: number, sliceMax: number, limit: number): JournalEvent[] {
    const where = "event_us >= ? AND slice BETWEEN ? AND ? ORDER BY event_us LIMIT ?";
    if (stream === REGISTRATION_STREAM) {
      return this.#db.prepare<unknown[], RegistrationRow>(`SELECT * FROM registration_events WHERE ${where}`).all(fromMicros, sliceMin, sliceMax, limit).map(registrationEvent);
    }
    return this.#db.prepare<unknown[], ObservationEventRow>(`SELECT ${OBSERVATION_COLUMNS} FROM observations WHERE ${where}`).all(fromMicros, sliceMin, sliceMax, limit).map(observationEvent);
  }

  /** Events of one persistence id from `fromSeqNr` on, by seq_nr (ReplayReq, LoadEvent). */
  eventsOf(stream: string, persistenceId: string, fromSeqNr: number, limit: number): JournalEvent[] {
    if (stream === REGISTRATION_STREAM) {
      return this.#db
        .prepare<unknown[], RegistrationRow>("SELECT * FROM registration_events WHERE persistence_id = ? AND seq_nr >= ? ORDER BY seq_nr LIMIT ?")
        .all(persistenceId, fromSeqNr, limit)
        .map(registrationEvent);
    }
    const prefix = SENSOR_ENTITY + "|";
    if (!persistenceId.startsWith(prefix)) return [];
    return this.#db
      .prepare<unknown[], ObservationEventRow>(`SELECT ${OBSERVATION_COLUMNS} FROM observations WHERE sensor_id = ? AND seq >= ? ORDER BY seq LIMIT ?`)
      .all(persistenceId.slice(prefix.length), fromSeqNr, limit)
      .map(observationEvent);
  }

  /** One event, or undefined. */
  load(stream: string, persistenceId: string, seqNr: number): JournalEvent | undefined {
    const [event] = this.eventsOf(stream, persistenceId, seqNr, 1);
    return event?.seqNr === seqNr ? event : undefined;
  }

  /**
   * Rows written before the journal existed get their event data once, at
   * open: observations a timestamp (from when they were stored, kept in
   * offset order) and a slice; each registered sensor one registration event.
   */
  #backfill(): void {
    this.#db.transaction(() => {
      let last = 0;
      const fill = this.#db.prepare("UPDATE observations SET event_us = ?, slice = ? WHERE offset = ?");
      const rows = this.#db.prepare<[], { offset: number; sensor_id: string; stored_at: number }>("SELECT offset, sensor_id, stored_at FROM observations WHERE event_us IS NULL ORDER BY offset").all();
      for (const row of rows) {
        last = Math.max(row.stored_at * 1000, last + 1);
        fill.run(last, sliceOf(persistenceIdOf(SENSOR_ENTITY, row.sensor_id)), row.offset);
      }
      if ((this.#db.prepare("SELECT COUNT(*) AS n FROM registration_events").get() as { n: number }).n > 0) return;
      last = 0;
      const sensors = this.#db.prepare<[], { sensor_id: string; secret_digest: string; registered_at: number }>("SELECT sensor_id, secret_digest, registered_at FROM sensors ORDER BY registration_offset").all();
      const insert = this.#db.prepare("INSERT INTO registration_events (event_us, persistence_id, seq_nr, slice, sensor_id, secret_digest) VALUES (?, ?, 1, ?, ?, ?)");
      for (const sensor of sensors) {
        last = Math.max(sensor.registered_at * 1000, last + 1);
        const pid = persistenceIdOf(REGISTRATION_ENTITY, sensor.sensor_id);
        insert.run(last, pid, sliceOf(pid), sensor.sensor_id, sensor.secret_digest);
      }
    })();
  }
}
