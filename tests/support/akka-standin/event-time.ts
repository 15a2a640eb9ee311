/*
 * Journal time and offsets. The journal keeps microseconds since the epoch
 * (exact in a double until the year 2255); on the wire a Timestamp is whole
 * seconds plus the sub-second part in nanos, never total nanos. Comparisons
 * with a client's offset are made in nanoseconds as bigint so nothing rounds.
 */
import type { Offset, Timestamp } from "./wire.js";

const MICROS_PER_SECOND = 1_000_000;
const NANOS_PER_SECOND = 1_000_000_000;

export function timestampOfMicros(micros: number): Timestamp {
  const seconds = Math.floor(micros / MICROS_PER_SECOND);
  return { seconds, nanos: (micros - seconds * MICROS_PER_SECOND) * 1000 };
}

export function nanosOf(timestamp: Timestamp): bigint {
  return BigInt(timestamp.seconds) * BigInt(NANOS_PER_SECOND) + BigInt(timestamp.nanos);
}

/** Why `timestamp` is not a valid protobuf Timestamp (named `what` in the message), or undefined. */
export function timestampProblem(timestamp: Timestamp, what: string): string | undefined {
  if (!Number.isInteger(timestamp.seconds) || timestamp.seconds < 0) return `${what}: seconds ${timestamp.seconds} is not a non-negative integer`;
  if (!Number.isInteger(timestamp.nanos) || timestamp.nanos < 0 || timestamp.nanos >= NANOS_PER_SECOND) {
    return `${what}: nanos ${timestamp.nanos} is not the sub-second part (0 to 999999999); are total nanoseconds being sent?`;
  }
  return undefined;
}

/** Where a consumer resumes: after `nanos`, and at `nanos` itself except the (pid, seq_nr) pairs it has seen. */
export interface ResumePoint { nanos: bigint; seen: ReadonlySet<string> }

export function seenKey(persistenceId: string, seqNr: number): string {
  return `${persistenceId}\u0000${seqNr}`;
}

/**
 * The resume point of InitReq.offset, or undefined for "from the start".
 * Newer clients may send several offsets; resuming from the earliest is the
 * safe reading (the consumer skips what it already has), and its seen pairs
 * only those at that earliest timestamp.
 */
export function resumePointOf(offsets: readonly Offset[]): ResumePoint | undefined {
  let earliest: bigint | undefined;
  for (const offset of offsets) {
    if (offset.timestamp && (earliest === undefined || nanosOf(offset.timestamp) < earliest)) earliest = nanosOf(offset.timestamp);
  }
  if (earliest === undefined) return undefined;
  const seen = new Set<string>();
  for (const offset of offsets) {
    if (offset.timestamp && nanosOf(offset.timestamp) === earliest) for (const pair of offset.seen) seen.add(seenKey(pair.persistence_id, pair.seq_nr));
  }
  return { nanos: earliest, seen };
}

export function isAfterResumePoint(event: { persistenceId: string; seqNr: number; timestampUs: number }, resume: ResumePoint | undefined): boolean {
  if (!resume) return true;
  const nanos = BigInt(event.timestampUs) * 1000n;
  return nanos > resume.nanos || (nanos === resume.nanos && !resume.seen.has(seenKey(event.persistenceId, event.seqNr)));
}

/** The first journal microsecond that can be after `resume` (for the SQL range; isAfterResumePoint decides). */
export function firstMicrosOf(resume: ResumePoint | undefined): number {
  return resume ? Number(resume.nanos / 1000n) : 0;
}
