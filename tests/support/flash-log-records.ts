/*
 * Records whose bytes are a function of their id (so any corruption or mix-up
 * shows), reading a whole FlashLog back, and a deterministic uplink-like
 * workload whose every step is noted in a Tracker: what a test may expect to
 * find after a power cut at any point of it.
 */
import * as assert from "uvu/assert";
import { FlashLog, MAX_RECORD_BYTES, NONE } from "../../modules/storage/flash-log.js";

/** A record of `length` bytes (4..255) carrying `id`: id in the first four bytes, then a pattern of both. */
export function recordFor(id: number, length = lengthFor(id)): Uint8Array {
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, id, true);
  for (let i = 4; i < length; i++) bytes[i] = (id * 31 + i * 7 + length) & 0xff;
  return bytes;
}

/** Typical observation sizes (25..40 bytes) with an occasional long one. */
export function lengthFor(id: number): number {
  return id % 17 === 5 ? 200 + (id % 56) : 25 + ((id * 7) % 16);
}

export interface Entry { id: number; position: number; length: number }

/** Every unreleased record, oldest first; fails the test on a record whose bytes do not match its id. */
export function readAll(log: FlashLog): Entry[] {
  const cursor = log.cursor();
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  const out: Entry[] = [];
  for (let length = log.next(cursor, buffer); length !== NONE; length = log.next(cursor, buffer)) {
    const id = new DataView(buffer.buffer).getUint32(0, true);
    assert.equal(buffer.slice(0, length), recordFor(id, length), `record ${id} is intact`);
    out.push({ id, position: cursor.position, length });
  }
  return out;
}

export const ids = (entries: Entry[]): number[] => entries.map((e) => e.id);

/** What the workload has been told so far, as an uplink would know it. */
export class Tracker {
  /** Ids whose append returned true and that no returned release has covered, oldest first. */
  expected: number[] = [];
  pendingAppend: number | undefined;
  pendingRelease: number | undefined;
  nextId = 1;
}

/**
 * Checks `found` (ids read back after a remount) against the tracker. An
 * interrupted append may be there or not; an interrupted release happened in
 * full or not at all (it is one flag bit); with `drops`, the oldest records
 * may be missing (a suffix remains).
 */
export function checkAgainst(tracker: Tracker, found: number[], drops: boolean): void {
  const seen = found.length > 0 && found[found.length - 1] === tracker.pendingAppend ? found.slice(0, -1) : found;
  const all = tracker.expected;
  if (drops) {
    assert.equal(seen, all.slice(all.length - seen.length), "what remains is the newest records, in order");
    return;
  }
  const pending = tracker.pendingRelease;
  const afterRelease = pending === undefined ? all : all.filter((id) => id > pending);
  if (seen.length === all.length) assert.equal(seen, all, "every acknowledged append is present, unreleased");
  else assert.equal(seen, afterRelease, "an interrupted release took effect whole");
}

/** Resolves the tracker to what flash was found to hold, for the next round of operations. */
export function settle(tracker: Tracker, found: number[]): void {
  tracker.expected = found.slice();
  tracker.pendingAppend = undefined;
  tracker.pendingRelease = undefined;
}

export interface WorkloadOptions {
  steps: number;
  /** Unreleased records the uplink keeps in flight before releasing (a slow gateway lets the log fill). */
  lag: number;
  /** Release every `releaseEvery` steps. */
  releaseEvery: number;
}

/**
 * Appends and releases as the device would: append one to three records a
 * step, and every few steps read what is new and release all but `lag` of
 * it. Deterministic for given options, so the first N flash operations are
 * the same in every run and a power cut after N lands at the same place.
 */
export function runWorkload(log: FlashLog, tracker: Tracker, options: WorkloadOptions): void {
  const cursor = log.cursor();
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  const read: Array<{ id: number; position: number }> = [];
  for (let step = 0; step < options.steps; step++) {
    for (let n = 0; n < 1 + (step % 3); n++) {
      const id = tracker.nextId++;
      tracker.pendingAppend = id;
      if (log.append(recordFor(id))) tracker.expected.push(id);
      tracker.pendingAppend = undefined;
    }
    if (step % options.releaseEvery !== options.releaseEvery - 1) continue;
    for (let length = log.next(cursor, buffer); length !== NONE; length = log.next(cursor, buffer)) {
      read.push({ id: new DataView(buffer.buffer).getUint32(0, true), position: cursor.position });
    }
    if (read.length <= options.lag) continue;
    const upTo = read[read.length - 1 - options.lag];
    tracker.pendingRelease = upTo.id;
    log.release(upTo.position);
    tracker.expected = tracker.expected.filter((id) => id > upTo.id);
    tracker.pendingRelease = undefined;
    read.splice(0, read.length - options.lag);
  }
}
