/*
 * The gateway's durable store of messages to devices (downlinks.db): each
 * request with its state, kept while the device is offline and after it
 * settled, so an operator sees what happened to it. States:
 *
 *   queued ─► sent ─► delivered ─► applied | refused | stale
 *     │        │ (session ended: queued again)
 *     └────────┴─► expired (not delivered within its time to live)
 *
 * `sent` means a PUBLISH awaits its PUBACK; a gateway that restarts finds
 * such rows and queues them again (the device drops a second copy: request
 * ids only grow). Request ids are max(now, last + 1) in ms, so a new store
 * (a replaced SD card) issues ids above those of the old one, which the
 * device would otherwise refuse as stale.
 */
import type Database from "better-sqlite3";
import { join } from "node:path";
import { openDurableDatabase } from "../../sqlite/durable-database.js";
import type { Downlink, SettingValue } from "../../../modules/downlink/messages.js";

export const DOWNLINK_STORE_FILE = "downlinks.db";

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE downlinks (
     id INTEGER PRIMARY KEY,
     sensor_id TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('set', 'command')),
     body TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'applied', 'refused', 'stale', 'expired')),
     detail TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     sent_at INTEGER,
     delivered_at INTEGER,
     settled_at INTEGER
   );
   CREATE INDEX downlinks_waiting ON downlinks (sensor_id, id) WHERE state IN ('queued', 'sent');
   CREATE INDEX downlinks_sensor ON downlinks (sensor_id, id);`,
];

export type DownlinkState = "queued" | "sent" | "delivered" | "applied" | "refused" | "stale" | "expired";
export const FINAL_STATES: ReadonlySet<DownlinkState> = new Set(["applied", "refused", "stale", "expired"]);

/** A request as the API shows it. */
export interface DownlinkRecord {
  id: number;
  sensorId: string;
  kind: "set" | "command";
  /** For a set: the settings, in order. */
  settings?: Record<string, SettingValue>;
  /** For a command: its name and argument. */
  command?: string;
  arg?: SettingValue;
  state: DownlinkState;
  /** The device's detail (why it refused, what the command said), or why it expired. */
  detail: string | null;
  attempts: number;
  createdAt: number;
  expiresAt: number;
  sentAt: number | null;
  deliveredAt: number | null;
  settledAt: number | null;
}

interface Row {
  id: number; sensor_id: string; kind: "set" | "command"; body: string; state: DownlinkState; detail: string | null; attempts: number;
  created_at: number; expires_at: number; sent_at: number | null; delivered_at: number | null; settled_at: number | null;
}

function toRecord(row: Row): DownlinkRecord {
  const body = JSON.parse(row.body) as { settings?: Array<[string, SettingValue]>; name?: string; arg?: SettingValue };
  return {
    id: row.id, sensorId: row.sensor_id, kind: row.kind,
    ...(row.kind === "set" ? { settings: Object.fromEntries(body.settings ?? []) } : { command: body.name, ...(body.arg === undefined ? {} : { arg: body.arg }) }),
    state: row.state, detail: row.detail, attempts: row.attempts, createdAt: row.created_at, expiresAt: row.expires_at,
    sentAt: row.sent_at, deliveredAt: row.delivered_at, settledAt: row.settled_at,
  };
}

/** The message a stored request stands for. */
export function downlinkOf(record: DownlinkRecord): Downlink {
  return record.kind === "set"
    ? { kind: "set", requestId: record.id, settings: Object.entries(record.settings ?? {}) }
    : { kind: "command", requestId: record.id, name: record.command!, arg: record.arg };
}

export class PendingStore {
  readonly path: string;
  readonly #db: Database.Database;
  #lastId: number;

  private constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.path = path;
    this.#lastId = (db.prepare("SELECT max(id) AS id FROM downlinks").get() as { id: number | null }).id ?? 0;
    // A PUBLISH the last run sent may never have arrived: it goes again.
    db.prepare("UPDATE downlinks SET state = 'queued' WHERE state = 'sent'").run();
  }

  static open(dataDir: string): PendingStore {
    return new PendingStore(openDurableDatabase(dataDir, DOWNLINK_STORE_FILE, MIGRATIONS), join(dataDir, DOWNLINK_STORE_FILE));
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Stores a new request, queued; returns it with its id. */
  add(sensorId: string, request: { kind: "set"; settings: Array<[string, SettingValue]> } | { kind: "command"; name: string; arg?: SettingValue }, now: number, ttlMs: number): DownlinkRecord {
    const id = Math.max(now, this.#lastId + 1);
    const body = request.kind === "set" ? { settings: request.settings } : { name: request.name, ...(request.arg === undefined ? {} : { arg: request.arg }) };
    this.#db.prepare("INSERT INTO downlinks (id, sensor_id, kind, body, state, created_at, expires_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)")
      .run(id, sensorId, request.kind, JSON.stringify(body), now, now + ttlMs);
    this.#lastId = id;
    return this.get(id)!;
  }

  get(id: number): DownlinkRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM downlinks WHERE id = ?").get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /** Newest first; a sensor's own, or all. */
  list(limit: number, sensorId?: string): DownlinkRecord[] {
    const rows = sensorId === undefined
      ? this.#db.prepare("SELECT * FROM downlinks ORDER BY id DESC LIMIT ?").all(limit)
      : this.#db.prepare("SELECT * FROM downlinks WHERE sensor_id = ? ORDER BY id DESC LIMIT ?").all(sensorId, limit);
    return (rows as Row[]).map(toRecord);
  }

  /** Requests of `sensorId` not yet delivered (queued or sent). */
  waiting(sensorId: string): number {
    return (this.#db.prepare("SELECT count(*) AS n FROM downlinks WHERE sensor_id = ? AND state IN ('queued', 'sent')").get(sensorId) as { n: number }).n;
  }

  /** The oldest queued request of `sensorId`, if any. */
  nextQueued(sensorId: string): DownlinkRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM downlinks WHERE sensor_id = ? AND state = 'queued' ORDER BY id LIMIT 1").get(sensorId) as Row | undefined;
    return row && toRecord(row);
  }

  /** Sensors with queued requests: who to try when the gateway starts. */
  sensorsWaiting(): string[] {
    return (this.#db.prepare("SELECT DISTINCT sensor_id FROM downlinks WHERE state = 'queued'").all() as { sensor_id: string }[]).map((r) => r.sensor_id);
  }

  markSent(id: number, now: number): void {
    this.#db.prepare("UPDATE downlinks SET state = 'sent', attempts = attempts + 1, sent_at = ? WHERE id = ? AND state = 'queued'").run(now, id);
  }

  /** The PUBACK arrived. False when the request had already moved on (settled by a report, expired). */
  markDelivered(id: number, now: number): boolean {
    return this.#db.prepare("UPDATE downlinks SET state = 'delivered', delivered_at = ? WHERE id = ? AND state = 'sent'").run(now, id).changes === 1;
  }

  /** The session ended before the PUBACK: queued again for the next one. */
  markUnsent(id: number): void {
    this.#db.prepare("UPDATE downlinks SET state = 'queued' WHERE id = ? AND state = 'sent'").run(id);
  }

  /** The device's report: only a request not yet settled takes it. False otherwise. */
  settle(id: number, state: "applied" | "refused" | "stale", detail: string | null, now: number): boolean {
    return this.#db.prepare("UPDATE downlinks SET state = ?, detail = ?, settled_at = ? WHERE id = ? AND state IN ('queued', 'sent', 'delivered')")
      .run(state, detail, now, id).changes === 1;
  }

  /** Requests past their time to live that never reached the device; returns how many. */
  expire(now: number): number {
    return this.#db.prepare("UPDATE downlinks SET state = 'expired', detail = 'not delivered within its time to live', settled_at = ? WHERE state = 'queued' AND expires_at <= ?")
      .run(now, now).changes;
  }

  /** Keeps at most `keep` settled requests, the newest; returns how many were deleted. */
  prune(keep: number): number {
    return this.#db.prepare(`DELETE FROM downlinks WHERE id IN (
        SELECT id FROM downlinks WHERE state IN ('applied', 'refused', 'stale', 'expired') ORDER BY id DESC LIMIT -1 OFFSET ?)`).run(keep).changes;
  }

  counts(): Record<DownlinkState, number> {
    const counts: Record<DownlinkState, number> = { queued: 0, sent: 0, delivered: 0, applied: 0, refused: 0, stale: 0, expired: 0 };
    for (const { state, n } of this.#db.prepare("SELECT state, count(*) AS n FROM downlinks GROUP BY state").all() as { state: DownlinkState; n: number }[]) counts[state] = n;
    return counts;
  }
}
