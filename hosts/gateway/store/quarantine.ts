/*
 * The gateway store's quarantine: every payload it refused, kept (truncated)
 * with why, so an operator can see what a device sent. Reached through
 * ObservationStore (`quarantine`, `rejected`), which owns the connection and
 * counts what is added here.
 */
import type Database from "better-sqlite3";
import { toRejected, type QuarantineEntry, type RejectedDbRow, type RejectedRow } from "./schema.js";

/**
 * Quarantined payloads keep at most this many bytes (and their true size).
 * A valid record is under 256 bytes; a refused one may be anything up to the
 * broker's packet limit, and the quarantine must not become a way to fill
 * the gateway's SD card.
 */
export const MAX_QUARANTINED_BYTES = 1024;

/** Topics are kept to this many characters in the quarantine, for the same reason. */
export const MAX_QUARANTINED_TOPIC = 256;

export class StoreQuarantine {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[number, string | null, string, string, string | null, string, number, Buffer]>;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO rejected (received_at, client_id, topic, reason, field, detail, size, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Keeps a refused payload (truncated to MAX_QUARANTINED_BYTES) with why it was refused. Returns its id. */
  add(entry: QuarantineEntry): number {
    const raw = Buffer.from(entry.payload.buffer, entry.payload.byteOffset, Math.min(entry.payload.byteLength, MAX_QUARANTINED_BYTES));
    const result = this.#insert.run(
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

  /** The most recent quarantined payloads, newest first. */
  newest(limit: number): RejectedRow[] {
    return this.#db.prepare<[number], RejectedDbRow>("SELECT * FROM rejected ORDER BY id DESC LIMIT ?").all(limit).map(toRejected);
  }
}
