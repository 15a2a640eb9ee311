/*
 * What the durable work costs in SQLite alone, measured side by side so the
 * bench can say where the gateway's store spends its microseconds and what
 * a leaner one would save: the gateway's own schema (store/schema.ts, its
 * multi-row inserts as store/multi-row-insert.ts runs them, and its relay
 * mark as store/relay-rows.ts runs it), the same
 * without one piece at a time, and a floor no row-per-observation store can
 * go below — a table with only the UNIQUE (sensor_id, seq) index that dedup
 * needs, nothing marked when the cloud acknowledges. Plus what decoding and
 * checking a record costs (ingest.ts `classify`).
 *
 * Rows go in the order the gateway sees them with `devices` devices taking
 * turns, in transactions of GROUP_ROWS at synchronous=FULL in WAL mode (one
 * fsync of the WAL per commit, as the group commit's sync does); every variant gets each group in turn, so a busy
 * moment of a shared machine costs them all alike.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classify } from "../../hosts/gateway/ingest/ingest.js";
import { MIGRATIONS } from "../../hosts/gateway/store/schema.js";
import { WAL_CHECKPOINT_PAGES } from "../../hosts/gateway/store/observation-store.js";
import { MultiRowInsert } from "../../hosts/gateway/store/multi-row-insert.js";
import { encodeObservation, type TimedObservation } from "../../modules/observation/record.js";

/** Rows per transaction: about what the gateway's group commit gathers under this load. */
const GROUP_ROWS = 500;
/** Rows measured per device count, after as many to warm up: a steady figure in a few seconds of CPU. */
const ROWS = 100_000;

/**
 * "relay-position": no UPDATE per acknowledged row, and so no indexes of
 * unrelayed rows either (the relay would keep a relayed-up-to position
 * instead): the table with AUTOINCREMENT and the dedup index. "floor": the
 * same without AUTOINCREMENT. (Dropping only the mark would let the
 * unrelayed rows' indexes grow without end, which costs more, not less.)
 */
export const STORE_VARIANTS = ["gateway", "no-anchor-index", "no-autoincrement", "relay-position", "floor"] as const;
export type StoreVariant = (typeof STORE_VARIANTS)[number];

export interface StoreFloor {
  devices: number;
  /** CPU per observation (user + system, µs) for insert, commit and (where the variant has it) the relay's mark. */
  storeUs: Record<StoreVariant, number>;
  /** The floor's, as before: insert and commit into the minimal table. */
  minimalStoreUs: number;
  /** CPU per observation (µs) to decode and check one record, as the gateway must before storing it. */
  classifyUs: number;
}

function cpu(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The gateway's schema, less what `variant` leaves out. */
function schemaOf(variant: StoreVariant): string {
  if (variant === "floor" || variant === "relay-position") {
    return `CREATE TABLE observations (
      id INTEGER PRIMARY KEY ${variant === "floor" ? "" : "AUTOINCREMENT"}, sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, boot INTEGER NOT NULL, uptime_ms INTEGER NOT NULL,
      time INTEGER, time_source TEXT, readings TEXT NOT NULL, received_at INTEGER NOT NULL, relayed_at INTEGER, UNIQUE (sensor_id, seq))`;
  }
  let sql = MIGRATIONS.join(";\n");
  // Every creation of it (migrations 2 and 4) and the drop between them.
  if (variant === "no-anchor-index") sql = sql.replace(/(CREATE|DROP) INDEX observations_unrelayed_boot[^;]*;/g, "");
  if (variant === "no-autoincrement") sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER PRIMARY KEY");
  return sql;
}

interface Variant {
  name: StoreVariant;
  db: Database.Database;
  group(from: number): void;
  mark?(from: number): void;
  us: number;
}

function openVariant(dir: string, name: StoreVariant, devices: number): Variant {
  const db = new Database(join(dir, `${name}.db`));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  db.exec(schemaOf(name));
  // The store's own statements (observation-store.ts appendAll: a sensor's consecutive rows many to an INSERT, else one; relay-rows.ts's mark).
  const inserts = new MultiRowInsert(db);
  const insertOne = db.prepare(
    `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sensor_id, seq) DO NOTHING`,
  );
  const markRun = db.prepare("UPDATE observations SET relayed_at = ? WHERE id BETWEEN ? AND ? AND relayed_at IS NULL");
  const sensorIds = Array.from({ length: devices }, (_, d) => `floor-${d}`);
  const reading = [{ quantity: "temperature" as const, value: 21.5 }];
  const group = db.transaction((from: number) => {
    const observations: TimedObservation[] = [];
    const receivedAt: number[] = [];
    for (let i = from; i < from + GROUP_ROWS; i++) {
      observations.push({ sensorId: sensorIds[i % devices], seq: Math.floor(i / devices) + 1, boot: 1, uptimeMs: i, readings: reading });
      receivedAt.push(i);
    }
    const readings = observations.map((obs) => JSON.stringify(obs.readings));
    for (let at = 0; at < GROUP_ROWS; ) {
      const size = MultiRowInsert.chunkSize(observations, at);
      if (size === 1) insertOne.run(observations[at].sensorId, observations[at].seq, 1, observations[at].uptimeMs, null, null, readings[at], receivedAt[at]);
      else if (inserts.insert(observations, readings, receivedAt, at, size) === undefined) throw new Error("store floor: a bench row was already stored");
      at += size;
    }
  });
  const marks = db.transaction((from: number) => markRun.run(from, from + 1, from + GROUP_ROWS));
  const relayed = name !== "floor" && name !== "relay-position";
  return {
    name,
    db,
    group,
    us: 0,
    // As relay-rows.ts: the mark need not wait for its own fsync.
    mark: relayed ? (from) => (db.exec("PRAGMA synchronous = NORMAL"), marks(from), db.exec("PRAGMA synchronous = FULL")) : undefined,
  };
}

function storeMicros(devices: number): Record<StoreVariant, number> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-store-floor-"));
  const variants = STORE_VARIANTS.map((name) => openVariant(dir, name, devices));
  try {
    for (let pass = 0; pass < 2; pass++) {
      for (const v of variants) v.us = 0;
      for (let from = pass * ROWS; from < (pass + 1) * ROWS; from += GROUP_ROWS) {
        for (const v of variants) {
          const before = cpu();
          v.group(from);
          v.mark?.(from);
          v.us += cpu() - before;
        }
      }
    }
    return Object.fromEntries(variants.map((v) => [v.name, v.us / ROWS])) as Record<StoreVariant, number>;
  } finally {
    for (const v of variants) v.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function classifyMicros(devices: number): number {
  const inputs = Array.from({ length: ROWS / 4 }, (_, i) => {
    const sensorId = `floor-${i % devices}`;
    const payload = encodeObservation({ sensorId, seq: Math.floor(i / devices) + 1, boot: 1, uptimeMs: i, readings: [{ quantity: "temperature", value: 21.5 }] });
    return { topic: `xsedge/v1/${sensorId}/up`, payload: Buffer.from(payload) };
  });
  let valid = 0;
  const run = () => {
    for (const { topic, payload } of inputs) if (classify(topic, payload).kind === "valid") valid++;
  };
  run(); // warm-up: the figure is for optimised code, as in a long-running gateway
  valid = 0;
  const before = cpu();
  run();
  const micros = cpu() - before;
  if (valid !== inputs.length) throw new Error(`store floor: ${inputs.length - valid} bench records were refused`);
  return micros / inputs.length;
}

export function storeFloor(devices: number): StoreFloor {
  const storeUs = storeMicros(devices);
  return { devices, storeUs, minimalStoreUs: storeUs.floor, classifyUs: classifyMicros(devices) };
}
