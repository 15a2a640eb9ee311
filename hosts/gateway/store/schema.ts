/*
 * The gateway store's SQLite schema, and how its rows map to objects.
 *
 * Migrations: `user_version` is the number applied
 * (hosts/sqlite/durable-database.ts runs the rest in one transaction).
 * Append only: a shipped migration never changes, because gateways in the
 * field have run it.
 */
import type { TimedObservation } from "../../../modules/observation/record.js";
import { observationFromRow, type ObservationColumns } from "../../sqlite/observation-row.js";
import type { TimeSource } from "../../../modules/observation/observation-json.js";
import type { BootAnchor } from "./clock-map.js";

export const MIGRATIONS: readonly string[] = [
  // 1: observations as acknowledged, and the quarantine of refused payloads.
  `CREATE TABLE observations (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     sensor_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     boot INTEGER NOT NULL,
     uptime_ms INTEGER NOT NULL,
     device_time INTEGER,
     readings TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     relayed_at INTEGER,
     UNIQUE (sensor_id, seq)
   );
   CREATE INDEX observations_unrelayed ON observations (id) WHERE relayed_at IS NULL;
   CREATE TABLE rejected (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     received_at INTEGER NOT NULL,
     client_id TEXT,
     topic TEXT NOT NULL,
     reason TEXT NOT NULL,
     field TEXT,
     detail TEXT NOT NULL,
     size INTEGER NOT NULL,
     raw BLOB NOT NULL
   );`,
  // 2: wall time comes from clock anchors, not the record. Before this, a
  // stored time could only be the device's own synced clock, hence 'device'.
  // The anchor row is what each boot's times are computed from; the index
  // serves filling in a boot's unrelayed rows when its anchor arrives.
  `ALTER TABLE observations RENAME COLUMN device_time TO time;
   ALTER TABLE observations ADD COLUMN time_source TEXT CHECK (time_source IN ('device', 'gateway'));
   UPDATE observations SET time_source = 'device' WHERE time IS NOT NULL;
   CREATE INDEX observations_unrelayed_boot ON observations (sensor_id, boot) WHERE relayed_at IS NULL;
   CREATE TABLE clock_anchors (
     sensor_id TEXT NOT NULL,
     boot INTEGER NOT NULL,
     source TEXT NOT NULL CHECK (source IN ('device', 'gateway')),
     offset_ms INTEGER NOT NULL,
     uptime_ms INTEGER NOT NULL,
     wall_ms INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     PRIMARY KEY (sensor_id, boot)
   );`,
  // 3: gateway rules (hosts/gateway/rules/). Device rows keep their shape
  // (and their size on disk): a derived observation is an ordinary row named
  // in rule_derived with the rule that derived it (rules read only devices'
  // rows, so no rule feeds on its own output), and one a rule kept at the
  // gateway leaves the outbox with relayed_at set and its id in
  // rule_kept_local; the trigger forgets both when the row is evicted. Each
  // rule's offset (`position`, the last observation it finished) and state
  // commit in the transaction that stores what it derived; its versions keep
  // their source and bundle for rollback; alerts wait in their own outbox,
  // with a cursor per sink.
  `CREATE TABLE rule_derived (
     id INTEGER PRIMARY KEY,
     rule TEXT NOT NULL
   );
   CREATE TABLE rule_kept_local (
     id INTEGER PRIMARY KEY,
     at INTEGER NOT NULL
   );
   CREATE TRIGGER rule_rows_evicted AFTER DELETE ON observations BEGIN
     DELETE FROM rule_derived WHERE id = old.id;
     DELETE FROM rule_kept_local WHERE id = old.id;
   END;
   CREATE TABLE rules (
     name TEXT PRIMARY KEY,
     version INTEGER NOT NULL,
     enabled INTEGER NOT NULL,
     position INTEGER NOT NULL,
     state TEXT,
     disabled_reason TEXT,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE rule_versions (
     rule TEXT NOT NULL,
     version INTEGER NOT NULL,
     hash TEXT NOT NULL,
     file TEXT NOT NULL,
     source TEXT NOT NULL,
     bundle TEXT NOT NULL,
     source_map TEXT NOT NULL,
     summary TEXT NOT NULL,
     deployed_at INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'superseded', 'failed')),
     detail TEXT,
     PRIMARY KEY (rule, version)
   );
   CREATE TABLE rule_alerts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     rule TEXT NOT NULL,
     key TEXT NOT NULL,
     active INTEGER NOT NULL,
     idempotency_key TEXT NOT NULL UNIQUE,
     at INTEGER NOT NULL,
     details TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE rule_alert_sinks (
     sink TEXT PRIMARY KEY,
     delivered_through INTEGER NOT NULL
   );`,
  // 4: a derived row says so itself (`derived` 1; NULL, one byte in a new
  // device row's header, for devices'), so the index that times a boot's
  // unrelayed rows leaves derived rows out: they have no boot to anchor
  // (their time is the gateway's when the rule made them), and that index,
  // with an entry per virtual sensor in every commit of a rule's outputs,
  // was about 40% of the WAL bytes a derived row cost (1.9 of 4.7 KiB,
  // measured in commits of 32 rows for 100 virtual sensors).
  `ALTER TABLE observations ADD COLUMN derived INTEGER CHECK (derived IS NULL OR derived = 1);
   UPDATE observations SET derived = 1 WHERE id IN (SELECT id FROM rule_derived);
   DROP INDEX observations_unrelayed_boot;
   CREATE INDEX observations_unrelayed_boot ON observations (sensor_id, boot) WHERE relayed_at IS NULL AND derived IS NULL;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface StoredObservation {
  id: number;
  observation: TimedObservation;
  receivedAt: number;
  relayedAt: number | null;
}

export interface QuarantineEntry {
  receivedAt: number;
  clientId: string | null;
  topic: string;
  /** Machine-readable refusal code, e.g. "malformed". */
  reason: string;
  /** The record field at fault, when there is one. */
  field: string | null;
  /** The human-readable explanation. */
  detail: string;
  payload: Uint8Array;
}

export interface RejectedRow extends QuarantineEntry {
  id: number;
  /** Size of the payload as received; `payload` may be truncated. */
  size: number;
}

export interface ObservationRow extends ObservationColumns {
  id: number;
  received_at: number;
  relayed_at: number | null;
}

export interface AnchorRow {
  sensor_id: string;
  boot: number;
  source: TimeSource;
  offset_ms: number;
  uptime_ms: number;
  wall_ms: number;
  received_at: number;
}

export interface RejectedDbRow {
  id: number;
  received_at: number;
  client_id: string | null;
  topic: string;
  reason: string;
  field: string | null;
  detail: string;
  size: number;
  raw: Uint8Array;
}

export function toStored(row: ObservationRow): StoredObservation {
  return { id: row.id, observation: observationFromRow(row), receivedAt: row.received_at, relayedAt: row.relayed_at };
}

export function toAnchor(row: AnchorRow): BootAnchor {
  return {
    sensorId: row.sensor_id,
    boot: row.boot,
    source: row.source,
    offsetMs: row.offset_ms,
    uptimeMs: row.uptime_ms,
    wallMs: row.wall_ms,
    receivedAt: row.received_at,
  };
}

export function toRejected(row: RejectedDbRow): RejectedRow {
  return {
    id: row.id,
    receivedAt: row.received_at,
    clientId: row.client_id,
    topic: row.topic,
    reason: row.reason,
    field: row.field,
    detail: row.detail,
    size: row.size,
    payload: new Uint8Array(row.raw),
  };
}
