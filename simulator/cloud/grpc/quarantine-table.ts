/*
 * Events a gateway sent over ConsumeEvent that the cloud cannot store as
 * observations (unknown payload type, malformed payload or event). They are
 * acknowledged, since a refusal would stall the gateway's outbox forever on
 * one event, so they are kept here, raw, with the reason: nothing
 * acknowledged is lost, and an operator can see what was sent.
 */
import type Database from "better-sqlite3";

export type QuarantineReason = "unknown-payload-type" | "malformed-payload" | "malformed-event";
export const QUARANTINE_REASONS: readonly QuarantineReason[] = Object.freeze(["unknown-payload-type", "malformed-payload", "malformed-event"]);

export interface QuarantinedEvent {
  originId: string;
  streamId: string;
  persistenceId: string;
  /** As received: it may be what was wrong. */
  seqNr: string;
  reason: QuarantineReason;
  detail: string;
  /** The event's protobuf bytes. */
  event: Uint8Array;
}

export interface QuarantineRow extends Omit<QuarantinedEvent, "event"> {
  id: number;
  receivedAt: number;
  event: Buffer;
}

export class QuarantineTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Stores the event; false if the same event (stream, persistence id, seq_nr) is already held for this reason. */
  hold(q: QuarantinedEvent, at: number): boolean {
    const insert = this.#db.prepare(
      `INSERT OR IGNORE INTO quarantined_events (received_at, origin_id, stream_id, persistence_id, seq_nr, reason, detail, event)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return insert.run(at, q.originId, q.streamId, q.persistenceId, q.seqNr, q.reason, q.detail, q.event).changes > 0;
  }

  /** Every held event, oldest first. */
  list(): QuarantineRow[] {
    return this.#db
      .prepare<[], QuarantineRow>(
        `SELECT id, received_at AS receivedAt, origin_id AS originId, stream_id AS streamId, persistence_id AS persistenceId,
           seq_nr AS seqNr, reason, detail, event FROM quarantined_events ORDER BY id`,
      )
      .all();
  }
}
