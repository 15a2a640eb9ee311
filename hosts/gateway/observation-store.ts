/*
 * The gateway's durable store: every observation it has acknowledged to a
 * device, and a quarantine of every payload it refused.
 *
 * The broker only sends a PUBACK after `append` returns, so what this file
 * commits is the gateway's promise to the device. Hence `synchronous=FULL`:
 * in WAL mode NORMAL may lose the last transactions on power loss, and an
 * acknowledged observation lost that way is one the device has already
 * deleted from its flash. The cost is one fsync per commit; group commit is
 * later work.
 *
 * Synchronous and timer-free on purpose: callers decide when to call it.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { openDurableDatabase } from "../sqlite/durable-database.js";
import type { Observation, Reading } from "../../modules/observation/record.js";

/** File name under the data directory. */
export const STORE_FILE = "observations.db";

/**
 * Quarantined payloads keep at most this many bytes (and their true size).
 * A valid record is under 256 bytes; a refused one may be anything up to the
 * broker's packet limit, and the quarantine must not become a way to fill
 * the gateway's SD card.
 */
export const MAX_QUARANTINED_BYTES = 1024;

/** Topics are kept to this many characters in the quarantine, for the same reason. */
export const MAX_QUARANTINED_TOPIC = 256;

/**
 * Schema migrations; `user_version` is the number applied. Append only:
 * a shipped migration never changes, because gateways in the field have run it.
 */
const MIGRATIONS: readonly string[] = [
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * What `append` did. "duplicate": the same (sensorId, seq) with the same
 * content, i.e. a device retry after a lost PUBACK. "conflict": the same
 * (sensorId, seq) with different content (a device whose sequence counter
 * went backwards); it is not stored, and the caller must keep it elsewhere
 * rather than acknowledge it as if it had been.
 */
export type AppendOutcome = "stored" | "duplicate" | "conflict";

export interface StoredObservation {
  id: number;
  observation: Observation;
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

export interface StoreCounts {
  observations: number;
  unrelayed: number;
  rejected: number;
}

export { StoreVersionError } from "../sqlite/durable-database.js";

interface ObservationRow {
  id: number;
  sensor_id: string;
  seq: number;
  boot: number;
  uptime_ms: number;
  device_time: number | null;
  readings: string;
  received_at: number;
  relayed_at: number | null;
}

interface RejectedDbRow {
  id: number;
  received_at: number;
  client_id: string | null;
  topic: string;
  reason: string;
  field: string | null;
  detail: string;
  size: number;
  raw: Buffer;
}

type Db = Database.Database;

function toObservation(row: ObservationRow): Observation {
  const obs: Observation = {
    sensorId: row.sensor_id,
    seq: row.seq,
    boot: row.boot,
    uptimeMs: row.uptime_ms,
    readings: JSON.parse(row.readings) as Reading[],
  };
  if (row.device_time !== null) obs.time = row.device_time;
  return obs;
}

function toStored(row: ObservationRow): StoredObservation {
  return { id: row.id, observation: toObservation(row), receivedAt: row.received_at, relayedAt: row.relayed_at };
}

export class ObservationStore {
  readonly path: string;
  readonly #db: Db;
  readonly #insert: Database.Statement<[string, number, number, number, number | null, string, number]>;
  readonly #byKey: Database.Statement<[string, number], ObservationRow>;
  readonly #unrelayed: Database.Statement<[number], ObservationRow>;
  readonly #markOne: Database.Statement<[number, number]>;
  readonly #quarantine: Database.Statement<[number, string | null, string, string, string | null, string, number, Buffer]>;

  /** Opens (creating if needed) the store in `dataDir`, migrating its schema. */
  static open(dataDir: string): ObservationStore {
    return new ObservationStore(openDurableDatabase(dataDir, STORE_FILE, MIGRATIONS), join(dataDir, STORE_FILE));
  }

  private constructor(db: Database.Database, path: string) {
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare<[string, number, number, number, number | null, string, number]>(
      `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, device_time, readings, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sensor_id, seq) DO NOTHING`,
    );
    this.#byKey = db.prepare<[string, number], ObservationRow>("SELECT * FROM observations WHERE sensor_id = ? AND seq = ?");
    this.#unrelayed = db.prepare<[number], ObservationRow>("SELECT * FROM observations WHERE relayed_at IS NULL ORDER BY id LIMIT ?");
    this.#markOne = db.prepare<[number, number]>("UPDATE observations SET relayed_at = ? WHERE id = ? AND relayed_at IS NULL");
    this.#quarantine = db.prepare<[number, string | null, string, string, string | null, string, number, Buffer]>(
      `INSERT INTO rejected (received_at, client_id, topic, reason, field, detail, size, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Commits one observation (durably, before returning) unless its (sensorId, seq) is already stored. */
  append(obs: Observation, receivedAt: number): AppendOutcome {
    const readings = JSON.stringify(obs.readings);
    const time = obs.time ?? null;
    const result = this.#insert.run(obs.sensorId, obs.seq, obs.boot, obs.uptimeMs, time, readings, receivedAt);
    if (result.changes === 1) return "stored";
    const existing = this.#byKey.get(obs.sensorId, obs.seq);
    const same =
      existing !== undefined &&
      existing.boot === obs.boot &&
      existing.uptime_ms === obs.uptimeMs &&
      existing.device_time === time &&
      existing.readings === readings;
    return same ? "duplicate" : "conflict";
  }

  /** Keeps a refused payload (truncated to MAX_QUARANTINED_BYTES) with why it was refused. Returns its id. */
  quarantine(entry: QuarantineEntry): number {
    const raw = Buffer.from(entry.payload.buffer, entry.payload.byteOffset, Math.min(entry.payload.byteLength, MAX_QUARANTINED_BYTES));
    const result = this.#quarantine.run(
      entry.receivedAt,
      entry.clientId,
      entry.topic.slice(0, MAX_QUARANTINED_TOPIC),
      entry.reason,
      entry.field,
      entry.detail,
      entry.payload.byteLength,
      raw,
    );
    return Number(result.lastInsertRowid);
  }

  /** The oldest observations not yet acknowledged by the cloud, in arrival order. */
  unrelayed(limit: number): StoredObservation[] {
    return this.#unrelayed.all(limit).map(toStored);
  }

  /** Marks rows as acknowledged by the cloud, in one transaction. Returns how many changed. */
  markRelayed(ids: readonly number[], at: number): number {
    if (ids.length === 0) return 0;
    return this.#db.transaction(() => {
      let changed = 0;
      for (const id of ids) changed += this.#markOne.run(at, id).changes;
      return changed;
    })();
  }

  find(sensorId: string, seq: number): StoredObservation | undefined {
    const row = this.#byKey.get(sensorId, seq);
    return row && toStored(row);
  }

  /** The most recent quarantined payloads, newest first. */
  rejected(limit = 100): RejectedRow[] {
    const rows = this.#db.prepare<[number], RejectedDbRow>("SELECT * FROM rejected ORDER BY id DESC LIMIT ?").all(limit);
    return rows.map((row) => ({
      id: row.id,
      receivedAt: row.received_at,
      clientId: row.client_id,
      topic: row.topic,
      reason: row.reason,
      field: row.field,
      detail: row.detail,
      size: row.size,
      payload: new Uint8Array(row.raw),
    }));
  }

  counts(): StoreCounts {
    const one = (sql: string) => (this.#db.prepare<[], { n: number }>(sql).get() as { n: number }).n;
    return {
      observations: one("SELECT COUNT(*) AS n FROM observations"),
      unrelayed: one("SELECT COUNT(*) AS n FROM observations WHERE relayed_at IS NULL"),
      rejected: one("SELECT COUNT(*) AS n FROM rejected"),
    };
  }

  /** The durability settings in force on this connection (synchronous: 2 = FULL), for diagnostics. */
  durability(): { journalMode: string; synchronous: number } {
    return {
      journalMode: this.#db.pragma("journal_mode", { simple: true }) as string,
      synchronous: this.#db.pragma("synchronous", { simple: true }) as number,
    };
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
