/*
 * The Akka registration consumer's bookkeeping, free of I/O: per persistence
 * id, which seq_nr comes next; and the stream offset (latest timestamp + the
 * (persistence id, seq_nr) pairs seen at it) that InitReq sends back on
 * reconnect, merged the way Akka's TimestampOffset is.
 *
 * Gaps. Akka's consumer rejects an event whose seq_nr is past last + 1 and
 * asks the producer to replay from last + 1 (ReplayReq), or, for a pid it has
 * never seen, asks EventTimestamp of seq_nr - 1 and accepts when that is old
 * or gone. We accept the event instead, counting and logging the gap when the
 * pid was known: a registration is last-writer-wins per sensor (Registered
 * replaces the secret), so a later event already holds everything the
 * missing ones did, and an older one arriving afterwards is skipped as a
 * duplicate. Waiting for a replay would keep a sensor on a stale secret (or
 * unregistered) for as long as a producer that compacts its journal, as the
 * reference cloud's log does, cannot deliver the missing seq_nr.
 */
import type { OffsetIn } from "../../../grpc/messages.js";

/** Event.source of a backtracking event: it carries no payload; LoadEvent fetches it. */
export const BACKTRACKING_SOURCE = "BT";

/** A checked google.protobuf.Timestamp: seconds within 2^53 µs, nanos the sub-second part. */
export interface EventTimestamp {
  seconds: number;
  nanos: number;
}

export interface SeenSeqNr {
  persistenceId: string;
  seqNr: number;
}

/** Where the stream resumes: events at `timestamp` already handled are in `seen`. */
export interface StreamOffset {
  timestamp: EventTimestamp;
  seen: readonly SeenSeqNr[];
}

export type SequenceDecision =
  /** At or before the last seq_nr handled for this pid: a replay, skipped. */
  | { action: "duplicate"; last: number }
  /** Apply the event; `missed` seq_nrs were never received (0 unless the pid was known and the seq_nr jumped). */
  | { action: "apply"; missed: number }
  /** A backtracking event to apply: fetch it first with LoadEvent. */
  | { action: "load"; missed: number };

/** What to make of `seqNr` from `source` when `last` is the pid's last handled seq_nr (undefined: never seen). */
export function decideSequence(last: number | undefined, seqNr: number, source: string): SequenceDecision {
  if (last !== undefined && seqNr <= last) return { action: "duplicate", last };
  // A pid never seen may start past 1: the producer resumed from an offset, or compacted its journal.
  const missed = last === undefined ? 0 : seqNr - last - 1;
  return { action: source === BACKTRACKING_SOURCE ? "load" : "apply", missed };
}

export function compareTimestamps(a: EventTimestamp, b: EventTimestamp): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

/**
 * The offset after handling (pid, seqNr) at `timestamp`: a later timestamp
 * starts a new seen set, the same one joins it (replacing the pid's earlier
 * seq_nr), an earlier one (a backtracking event, another slice lagging)
 * leaves the offset where it is: it never moves back.
 */
export function advanceOffset(offset: StreamOffset | null, position: SeenSeqNr, timestamp: EventTimestamp): StreamOffset {
  const order = offset === null ? 1 : compareTimestamps(timestamp, offset.timestamp);
  if (order > 0 || offset === null) return { timestamp, seen: [position] };
  if (order < 0) return offset;
  return { timestamp: offset.timestamp, seen: [...offset.seen.filter((s) => s.persistenceId !== position.persistenceId), position] };
}

/** What one handled event changes, for the store to commit in one transaction. */
export interface StreamStep {
  persistenceId: string;
  seqNr: number;
  /** The offset after this event; unchanged when its timestamp was unusable or older. */
  offset: StreamOffset | null;
}

/** InitReq.offset: none on a first start, else the stored offset. */
export function initOffsets(offset: StreamOffset | null): OffsetIn[] {
  if (offset === null) return [];
  return [{ timestamp: { ...offset.timestamp }, seen: offset.seen.map((s) => ({ persistence_id: s.persistenceId, seq_nr: s.seqNr })) }];
}

/**
 * The consumer's position in one stream, in memory. It follows the store:
 * `step` says what an event would change, `commit` takes it once stored.
 */
export class RegistrationStreamState {
  #offset: StreamOffset | null;
  readonly #seqNrs: Map<string, number>;

  constructor(offset: StreamOffset | null, seqNrs: ReadonlyMap<string, number>) {
    this.#offset = offset;
    this.#seqNrs = new Map(seqNrs);
  }

  get offset(): StreamOffset | null {
    return this.#offset;
  }

  lastSeqNr(persistenceId: string): number | undefined {
    return this.#seqNrs.get(persistenceId);
  }

  decide(persistenceId: string, seqNr: number, source: string): SequenceDecision {
    return decideSequence(this.#seqNrs.get(persistenceId), seqNr, source);
  }

  /** `timestamp` null: the event's own was unusable; the pid's seq_nr still moves so a replay of it is a duplicate. */
  step(persistenceId: string, seqNr: number, timestamp: EventTimestamp | null): StreamStep {
    const offset = timestamp === null ? this.#offset : advanceOffset(this.#offset, { persistenceId, seqNr }, timestamp);
    return { persistenceId, seqNr, offset };
  }

  commit(step: StreamStep): void {
    this.#seqNrs.set(step.persistenceId, step.seqNr);
    this.#offset = step.offset;
  }
}
