/*
 * The outbox of alerts the gateway's rules raise and clear: written in the
 * transaction that commits the rule's offset (so a replay after a crash
 * neither loses nor repeats one), read by each alert sink from its own
 * cursor. A sink moves its cursor only after its receiver took the alert,
 * so every alert reaches every sink at least once; the idempotency key
 * (rule, key and the key's change count, the same on every replay) lets a
 * receiver drop a repeat. Reached as ObservationStore.alerts.
 */
import type Database from "better-sqlite3";

export interface AlertRecord {
  id: number;
  rule: string;
  key: string;
  active: boolean;
  idempotencyKey: string;
  /** The event time that changed it (the rule's ctx.now). */
  at: number;
  /** JSON: message, severity, sensorId, data. */
  details: string;
  createdAt: number;
}

export type NewAlert = Omit<AlertRecord, "id">;

interface AlertDbRow {
  id: number;
  rule: string;
  key: string;
  active: number;
  idempotency_key: string;
  at: number;
  details: string;
  created_at: number;
}

const toAlert = (row: AlertDbRow): AlertRecord => ({
  id: row.id, rule: row.rule, key: row.key, active: row.active === 1, idempotencyKey: row.idempotency_key, at: row.at,
  details: row.details, createdAt: row.created_at,
});

export class RuleAlerts {
  readonly #insert: Database.Statement<[string, string, number, string, number, string, number]>;
  readonly #after: Database.Statement<[number, number], AlertDbRow>;
  readonly #newest: Database.Statement<[number], AlertDbRow>;
  readonly #latest: Database.Statement<[], { id: number | null }>;
  readonly #cursor: Database.Statement<[string], { delivered_through: number }>;
  readonly #setCursor: Database.Statement<[string, number]>;
  readonly #prune: Database.Statement<[number, number]>;

  constructor(db: Database.Database) {
    // A repeat of an idempotency key is the same alert: kept once.
    this.#insert = db.prepare(
      "INSERT INTO rule_alerts (rule, key, active, idempotency_key, at, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
    );
    this.#after = db.prepare("SELECT * FROM rule_alerts WHERE id > ? ORDER BY id LIMIT ?");
    this.#newest = db.prepare("SELECT * FROM rule_alerts ORDER BY id DESC LIMIT ?");
    this.#latest = db.prepare("SELECT MAX(id) AS id FROM rule_alerts");
    this.#cursor = db.prepare("SELECT delivered_through FROM rule_alert_sinks WHERE sink = ?");
    this.#setCursor = db.prepare(
      "INSERT INTO rule_alert_sinks (sink, delivered_through) VALUES (?, ?) ON CONFLICT (sink) DO UPDATE SET delivered_through = MAX(delivered_through, excluded.delivered_through)",
    );
    this.#prune = db.prepare("DELETE FROM rule_alerts WHERE id <= ? AND id <= (SELECT MAX(id) FROM rule_alerts) - ?");
  }

  /** Adds an alert; false when its idempotency key was already there. */
  add(alert: NewAlert): boolean {
    return this.#insert.run(alert.rule, alert.key, alert.active ? 1 : 0, alert.idempotencyKey, alert.at, alert.details, alert.createdAt).changes === 1;
  }

  after(id: number, limit: number): AlertRecord[] {
    return this.#after.all(id, limit).map(toAlert);
  }

  newest(limit: number): AlertRecord[] {
    return this.#newest.all(limit).map(toAlert);
  }

  latestId(): number {
    return this.#latest.get()?.id ?? 0;
  }

  /** The last alert id `sink` delivered; a new sink starts at the newest alert (it is not sent the past). */
  cursor(sink: string): number {
    const found = this.#cursor.get(sink);
    if (found !== undefined) return found.delivered_through;
    const start = this.latestId();
    this.#setCursor.run(sink, start);
    return start;
  }

  /** `sink` delivered every alert up to `id`. */
  delivered(sink: string, id: number): void {
    this.#setCursor.run(sink, id);
  }

  /** Deletes alerts every sink has delivered (`through`), keeping the newest `keep` for the API; returns how many. */
  prune(through: number, keep: number): number {
    return this.#prune.run(through, keep).changes;
  }
}
