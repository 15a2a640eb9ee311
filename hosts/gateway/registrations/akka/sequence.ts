/*
 * The Akka registration consumer's bookkeeping, free of I/O: per persistence
 * id, which seq_nr comes next; and the stream offset (latest timestamp + the
 * (persistence id, seq_nr) pairs seen at it) that InitReq sends back on
 * reconnect, merged the way Akka's TimestampOffset is.
 *
 * Offsets. An event carries upstream's `repeated Offset`: usually one, for
 * the whole stream; a producer that keeps a TimestampOffsetBySlice sends one
 * per slice (each with its `slice`). Each is applied to the offset it is
 * for, and InitReq sends every one back, so a lagging slice resumes from
 * its own position rather than from another slice's later one.
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

/** Where the stream (or one slice of it) resumes: events at `timestamp` already handled are in `seen`. */
export interface StreamOffset {
  timestamp: EventTimestamp;
  seen: readonly SeenSeqNr[];
}

/**
 * Which part of the stream an offset is for: null for the whole stream
 * (Akka's TimestampOffset), a slice number for that slice's (a producer
 * that keeps a TimestampOffsetBySlice sends one Offset per slice).
 */
export type OffsetSlice = number | null;

/** The stored position: the whole-stream offset and/or one per slice, as the producer gave them. */
export type StreamOffsets = ReadonlyMap<OffsetSlice, StreamOffset>;

/** One element of an event's `repeated Offset`, checked. */
export interface EventOffset {
  slice: OffsetSlice;
  timestamp: EventTimestamp;
  /** The pairs the producer says are seen at `timestamp`; empty: the event's own (upstream's rule). */
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
 * The offset after handling the pairs `seen` at `timestamp`: a later
 * timestamp starts a new seen set, the same one joins it (replacing a pid's
 * earlier seq_nr), an earlier one (a backtracking event, another slice
 * lagging) leaves the offset where it is: it never moves back.
 */
export function advanceOffset(offset: StreamOffset | null, seen: SeenSeqNr | readonly SeenSeqNr[], timestamp: EventTimestamp): StreamOffset {
  const pairs: readonly SeenSeqNr[] = Array.isArray(seen) ? seen : [seen as SeenSeqNr];
  const order = offset === null ? 1 : compareTimestamps(timestamp, offset.timestamp);
  if (order > 0 || offset === null) return { timestamp, seen: [...pairs] };
  if (order < 0) return offset;
  const joining = new Set(pairs.map((p) => p.persistenceId));
  return { timestamp: offset.timestamp, seen: [...offset.seen.filter((s) => !joining.has(s.persistenceId)), ...pairs] };
}

/** What one handled event changes, for the store to commit in one transaction. */
export interface StreamStep {
  persistenceId: string;
  seqNr: number;
  /** The offsets this event moved (whole stream and/or slices); empty when its offsets were unusable or all older. */
  offsets: StreamOffsets;
}

/** InitReq.offset: none on a first start, else every stored offset (a slice's with its slice set). */
export function initOffsets(offsets: StreamOffsets): OffsetIn[] {
  return [...offsets].map(([slice, offset]) => ({
    timestamp: { ...offset.timestamp },
    seen: offset.seen.map((s) => ({ persistence_id: s.persistenceId, seq_nr: s.seqNr })),
    ...(slice === null ? {} : { slice }),
  }));
}

/** The latest timestamp of all stored offsets; null before the first event. */
export function latestTimestamp(offsets: StreamOffsets): EventTimestamp | null {
  let latest: EventTimestamp | null = null;
  for (const { timestamp } of offsets.values()) if (latest === null || compareTimestamps(timestamp, latest) > 0) latest = timestamp;
  return latest;
}

/**
 * The consumer's position in one stream, in memory. It follows the store:
 * `step` says what an event would change, `commit` takes it once stored.
 */
export class RegistrationStreamState {
  readonly #offsets: Map<OffsetSlice, StreamOffset>;
  readonly #seqNrs: Map<string, number>;

  constructor(offsets: StreamOffsets, seqNrs: ReadonlyMap<string, number>) {
    this.#offsets = new Map(offsets);
    this.#seqNrs = new Map(seqNrs);
  }

  get offsets(): StreamOffsets {
    return this.#offsets;
  }

  lastSeqNr(persistenceId: string): number | undefined {
    return this.#seqNrs.get(persistenceId);
  }

  decide(persistenceId: string, seqNr: number, source: string): SequenceDecision {
    return decideSequence(this.#seqNrs.get(persistenceId), seqNr, source);
  }

  /**
   * Each of the event's offsets is applied to the offset it is for (the
   * whole stream's, or its slice's). None (the event's were unusable): the
   * pid's seq_nr still moves, so a replay of it is a duplicate.
   */
  step(persistenceId: string, seqNr: number, offsets: readonly EventOffset[]): StreamStep {
    const moved = new Map<OffsetSlice, StreamOffset>();
    for (const { slice, timestamp, seen } of offsets) {
      const before = moved.get(slice) ?? this.#offsets.get(slice) ?? null;
      const after = advanceOffset(before, seen.length > 0 ? seen : [{ persistenceId, seqNr }], timestamp);
      if (after !== before) moved.set(slice, after);
    }
    return { persistenceId, seqNr, offsets: moved };
  }

  commit(step: StreamStep): void {
    this.#seqNrs.set(step.persistenceId, step.seqNr);
    for (const [slice, offset] of step.offsets) this.#offsets.set(slice, offset);
  }
}

export function isoTime(timestamp: EventTimestamp): string {
  return new Date(timestamp.seconds * 1000 + Math.floor(timestamp.nanos / 1e6)).toISOString();
}

/** "2023-11-14T22:13:20.000Z (2 seen, offsets of 3 slices)", for log lines. */
export function describeOffsets(offsets: StreamOffsets): string {
  const latest = latestTimestamp(offsets);
  if (latest === null) return "the start";
  const slices = [...offsets.keys()].filter((slice) => slice !== null).length;
  const seen = [...offsets.values()].reduce((n, o) => n + o.seen.length, 0);
  return `${isoTime(latest)} (${seen} seen${slices > 0 ? `, offsets of ${slices} slices` : ""})`;
}
