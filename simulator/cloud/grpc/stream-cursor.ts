/*
 * Where an EventsBySlices subscriber stands, as Akka offsets say it: a
 * timestamp plus the (persistence id, seq_nr) pairs already seen at exactly
 * that timestamp. An event is still to send when its timestamp is later, or
 * equal and not among those seen. Pure.
 */
import type { Offset } from "../../../hosts/grpc/messages.js";
import { parseSeqNr } from "../../../hosts/grpc/persistence-id.js";
import { microsOf } from "../../../hosts/grpc/timestamp.js";

export interface StreamCursor {
  /** µs since the epoch; events before it have been sent. */
  micros: number;
  /** "pid#seqNr" of the events at exactly `micros` that have been sent. */
  seen: ReadonlySet<string>;
}

export const START: StreamCursor = Object.freeze({ micros: 0, seen: new Set<string>() });

export function seenKey(persistenceId: string, seqNr: number): string {
  return `${persistenceId}#${seqNr}`;
}

/**
 * The cursor an InitReq's offsets give (none: from the start). With several
 * (newer Akka sends one per replica), the earliest wins: a subscriber may
 * get an event twice (it skips seq_nrs it has), never miss one. Throws
 * TimestampError or PersistenceIdError for an offset that cannot be one.
 */
export function cursorOf(offsets: readonly Offset[]): StreamCursor {
  let cursor: StreamCursor | undefined;
  for (const offset of offsets) {
    if (offset.timestamp === null) continue;
    const micros = microsOf(offset.timestamp);
    const seen = new Set(offset.seen.map(({ persistence_id, seq_nr }) => seenKey(persistence_id, parseSeqNr(seq_nr, persistence_id))));
    if (cursor === undefined || micros < cursor.micros) cursor = { micros, seen };
  }
  return cursor ?? START;
}

export function isAfter(cursor: StreamCursor, event: { persistenceId: string; seqNr: number; micros: number }): boolean {
  return event.micros > cursor.micros || (event.micros === cursor.micros && !cursor.seen.has(seenKey(event.persistenceId, event.seqNr)));
}

/** The cursor once `event` (the newest so far) has been sent. */
export function advance(cursor: StreamCursor, event: { persistenceId: string; seqNr: number; micros: number }): StreamCursor {
  const key = seenKey(event.persistenceId, event.seqNr);
  if (event.micros === cursor.micros) return { micros: cursor.micros, seen: new Set([...cursor.seen, key]) };
  return { micros: event.micros, seen: new Set([key]) };
}
