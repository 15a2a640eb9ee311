/*
 * What durable ingest cannot do without, measured alone, to set the
 * durable-ingest figure against: the least CPU any store that keeps one
 * SQLite row per observation and deduplicates by (sensor, seq) spends per
 * observation, and what decoding and checking a record costs.
 *
 * The minimal store is a table with an integer rowid and one UNIQUE
 * (sensor_id, seq) index: no other index, no AUTOINCREMENT, no relay
 * bookkeeping (no mark per row once the cloud acknowledges it), the
 * readings as one short text. Rows go in the order the gateway sees them
 * with `devices` devices taking turns, in transactions of GROUP_ROWS at
 * synchronous=FULL in WAL mode, as the gateway's group commit does. It is
 * a floor, not a design: the gateway needs the rest too.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classify } from "../../hosts/gateway/ingest/ingest.js";
import { encodeObservation } from "../../modules/observation/record.js";

/** Rows per transaction: about what the gateway's group commit gathers under this load (500–600 in the ingest runs). */
const GROUP_ROWS = 500;
/** Rows measured per device count: enough for a steady figure in well under a second of CPU. */
const ROWS = 200_000;

export interface StoreFloor {
  devices: number;
  /** CPU per observation (user + system, µs) for insert and commit in the minimal store. */
  minimalStoreUs: number;
  /** CPU per observation (µs) to decode and check one record (ingest/ingest.ts `classify`), as the gateway must before storing it. */
  classifyUs: number;
}

function cpuMicros(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const { user, system } = process.cpuUsage(before);
  return user + system;
}

function payloadsFor(devices: number, count: number): Array<{ topic: string; payload: Uint8Array }> {
  return Array.from({ length: count }, (_, i) => {
    const sensorId = `floor-${i % devices}`;
    const payload = encodeObservation({ sensorId, seq: Math.floor(i / devices) + 1, boot: 1, uptimeMs: i, readings: [{ quantity: "temperature", value: 21.5 }] });
    return { topic: `xsedge/v1/${sensorId}/up`, payload: Buffer.from(payload) };
  });
}

function minimalStoreMicros(devices: number): number {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-store-floor-"));
  const db = new Database(join(dir, "floor.db"));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(`CREATE TABLE observations (
      id INTEGER PRIMARY KEY, sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, boot INTEGER NOT NULL,
      uptime_ms INTEGER NOT NULL, readings TEXT NOT NULL, received_at INTEGER NOT NULL, UNIQUE (sensor_id, seq))`);
    const insert = db.prepare(
      `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, readings, received_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sensor_id, seq) DO NOTHING`,
    );
    const sensorIds = Array.from({ length: devices }, (_, d) => `floor-${d}`);
    const readings = JSON.stringify([{ quantity: "temperature", value: 21.5 }]);
    const group = db.transaction((from: number) => {
      for (let i = from; i < from + GROUP_ROWS; i++) insert.run(sensorIds[i % devices], Math.floor(i / devices) + 1, 1, i, readings, i);
    });
    return cpuMicros(() => {
      for (let from = 0; from < ROWS; from += GROUP_ROWS) group(from);
    }) / ROWS;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function classifyMicros(devices: number): number {
  const inputs = payloadsFor(devices, ROWS / 4);
  let valid = 0;
  const run = () => {
    for (const { topic, payload } of inputs) if (classify(topic, payload).kind === "valid") valid++;
  };
  run(); // warm-up: the figure is for optimised code, as in a long-running gateway
  valid = 0;
  const micros = cpuMicros(run);
  if (valid !== inputs.length) throw new Error(`store floor: ${inputs.length - valid} bench records were refused`);
  return micros / inputs.length;
}

export function storeFloor(devices: number): StoreFloor {
  minimalStoreMicros(devices); // warm-up (statement compilation, JIT, the page cache)
  return { devices, minimalStoreUs: minimalStoreMicros(devices), classifyUs: classifyMicros(devices) };
}
