/*
 * google.protobuf.Timestamp <-> time. `nanos` is the sub-second part only,
 * 0..999,999,999 (the Akka Edge Rust sample gets this wrong; we do not copy
 * it). Microseconds are the resolution our stores keep: enough to give every
 * event of a journal its own, strictly increasing timestamp.
 */
import type { Timestamp, TimestampIn } from "./messages.js";

const NANOS_PER_SECOND = 1_000_000_000;

export class TimestampError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimestampError";
  }
}

export function timestampFromMicros(micros: number): TimestampIn {
  if (!Number.isSafeInteger(micros) || micros < 0) throw new TimestampError(`timestamp must be a non-negative integer of microseconds, got ${micros}`);
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds, nanos: (micros - seconds * 1_000_000) * 1000 };
}

export function timestampFromMillis(ms: number): TimestampIn {
  return timestampFromMicros(ms * 1000);
}

/** Microseconds since the epoch; throws TimestampError for nanos out of range or seconds past 2^53 µs. */
export function microsOf(timestamp: Timestamp | TimestampIn): number {
  const seconds = Number(timestamp.seconds);
  const { nanos } = timestamp;
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new TimestampError(`timestamp seconds out of range: ${timestamp.seconds}`);
  if (!Number.isInteger(nanos) || nanos < 0 || nanos >= NANOS_PER_SECOND) throw new TimestampError(`timestamp nanos must be 0..999999999, got ${nanos}`);
  const micros = seconds * 1_000_000 + Math.floor(nanos / 1000);
  if (!Number.isSafeInteger(micros)) throw new TimestampError(`timestamp out of range: ${timestamp.seconds} s`);
  return micros;
}

export function millisOf(timestamp: Timestamp | TimestampIn): number {
  return Math.floor(microsOf(timestamp) / 1000);
}
