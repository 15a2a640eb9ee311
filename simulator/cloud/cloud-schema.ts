/*
 * The reference cloud store's schema (forward-only migrations) and its rows
 * as the API and the gRPC side see them: registered sensors (never with
 * their secret) and relayed observations with their offset.
 */
import { observationFromRow, type ObservationColumns } from "../../hosts/sqlite/observation-row.js";
import { observationToJson, type ObservationJson } from "../../modules/observation/observation-json.js";
import type { AnyMessage } from "../../hosts/grpc/messages.js";
import type { IncomingObservation } from "./validate.js";

/** Append only (see hosts/sqlite/durable-database.ts): clouds in use have run every shipped one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sensors (
     sensor_id TEXT PRIMARY KEY,
     secret TEXT NOT NULL,
     registered_at INTEGER NOT NULL,
     registration_offset INTEGER NOT NULL UNIQUE
   );
   CREATE TABLE observations (
     offset INTEGER PRIMARY KEY AUTOINCREMENT,
     sensor_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     boot INTEGER NOT NULL,
     uptime_ms INTEGER NOT NULL,
     device_time INTEGER,
     readings TEXT NOT NULL,
     gateway_received_at INTEGER,
     stored_at INTEGER NOT NULL,
     UNIQUE (sensor_id, seq)
   );`,
  // 2: time comes from the gateway's clock anchors, from one of two clocks.
  // A time stored before this was the device's synced clock, hence 'device'.
  `ALTER TABLE observations RENAME COLUMN device_time TO time;
   ALTER TABLE observations ADD COLUMN time_source TEXT CHECK (time_source IN ('device', 'gateway'));
   UPDATE observations SET time_source = 'device' WHERE time IS NOT NULL;`,
  // 3: the Akka Projection gRPC side (grpc/event-journal.ts). Each observation
  // gets its event timestamp (µs, unique) and slice, and the Any payload it
  // arrived in over gRPC (NULL: came over HTTP). Registrations become an
  // event journal. Events that cannot be stored as observations are kept,
  // raw, in quarantine. Older rows are filled in by EventJournal at open.
  `ALTER TABLE observations ADD COLUMN event_us INTEGER;
   ALTER TABLE observations ADD COLUMN slice INTEGER;
   ALTER TABLE observations ADD COLUMN payload_type TEXT;
   ALTER TABLE observations ADD COLUMN payload BLOB;
   CREATE UNIQUE INDEX observations_by_event_us ON observations (event_us);
   CREATE TABLE registration_events (
     event_us INTEGER PRIMARY KEY,
     persistence_id TEXT NOT NULL,
     seq_nr INTEGER NOT NULL,
     slice INTEGER NOT NULL,
     sensor_id TEXT NOT NULL,
     secret TEXT NOT NULL,
     UNIQUE (persistence_id, seq_nr)
   );
   CREATE TABLE quarantined_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     received_at INTEGER NOT NULL,
     origin_id TEXT NOT NULL,
     stream_id TEXT NOT NULL,
     persistence_id TEXT NOT NULL,
     seq_nr TEXT NOT NULL,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     event BLOB NOT NULL,
     UNIQUE (stream_id, persistence_id, seq_nr, reason)
   );`,
  // 4: secrets give way to their digests (see the header), in both tables;
  // xsedge_secret_digest is registered by CloudStore.open.
  `ALTER TABLE sensors RENAME COLUMN secret TO secret_digest;
   UPDATE sensors SET secret_digest = xsedge_secret_digest(secret_digest);
   ALTER TABLE registration_events RENAME COLUMN secret TO secret_digest;
   UPDATE registration_events SET secret_digest = xsedge_secret_digest(secret_digest);`,
];

/**
 * One entry of the registration log gateways follow: the sensor's latest
 * registration, with its secret's digest.
 */
export interface RegistrationEvent {
  /** The sensor's registration offset: the event id. */
  offset: number;
  sensorId: string;
  /** "sha256:<hex>" of the secret. */
  secretDigest: string;
  registeredAt: number;
}

/** A sensor as the API shows it: never with its secret. */
export interface SensorInfo {
  sensorId: string;
  registeredAt: number;
  /** Increases with every registration or re-registration, across all sensors. */
  registrationOffset: number;
}

/**
 * An observation as the API returns it: readings with units, `time` and
 * `timeSource` null when the gateway had no clock anchor for its boot,
 * `receivedAt` (the gateway's receive time) null when the gateway did not say.
 */
export interface CloudObservation extends ObservationJson {
  offset: number;
  receivedAt: number | null;
  storedAt: number;
}

export interface AppendResult {
  stored: CloudObservation[];
  duplicates: number;
}

/** An observation that came as a gRPC event: its original payload is kept and served as is. */
export interface ConsumedObservation extends IncomingObservation {
  payload?: AnyMessage;
}

export interface ObservationRow extends ObservationColumns {
  offset: number;
  gateway_received_at: number | null;
  stored_at: number;
}

export interface SensorRow {
  sensor_id: string;
  registered_at: number;
  registration_offset: number;
}

export function toCloud(offset: number, obs: IncomingObservation, storedAt: number): CloudObservation {
  return { offset, ...observationToJson(obs), receivedAt: obs.receivedAt ?? null, storedAt };
}

export function toObservation(row: ObservationRow): CloudObservation {
  const obs: IncomingObservation = observationFromRow(row);
  if (row.gateway_received_at !== null) obs.receivedAt = row.gateway_received_at;
  return toCloud(row.offset, obs, row.stored_at);
}

export function toSensor(row: SensorRow): SensorInfo {
  return { sensorId: row.sensor_id, registeredAt: row.registered_at, registrationOffset: row.registration_offset };
}
