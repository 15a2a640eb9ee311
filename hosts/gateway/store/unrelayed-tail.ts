/*
 * The newest unrelayed observations, kept in memory as they are committed,
 * so the relay sends them without reading back from SQLite what the gateway
 * has only just written. A read-through cache of the store's unrelayed rows:
 * the store feeds it on every commit and consults it in `unrelayed`; SQLite
 * stays the record.
 *
 * The invariant: the rows held are every unrelayed row from the first one
 * held upward, in id order (ids only grow). Older unrelayed rows may be in
 * SQLite only, unless the tail is `complete`. It is not complete when the
 * store opens (a backlog from before a restart), after it overflowed (the
 * oldest held rows were let go), and after `invalidate` (rows changed in
 * SQLite behind its back: an anchor timed them, or eviction deleted them).
 * A read from SQLite that finds fewer unrelayed rows below the first held
 * than it asked for has found them all, and makes it complete again.
 *
 * Pure: no I/O, no timers.
 */
import type { StoredObservation } from "./schema.js";

/**
 * Rows held at most. The relay only needs what arrives while one batch is
 * in flight (100,000 a second for 50 ms is 5,000); twice that, at a few
 * hundred bytes a row, is a few MB. A relay further behind than this (a
 * cloud outage) reads from SQLite, as after a restart.
 */
export const MAX_UNRELAYED_IN_MEMORY = 10_000;

export class UnrelayedTail {
  readonly #capacity: number;
  #rows: StoredObservation[] = [];
  /** Index of the oldest held row in #rows (rows before it have left). */
  #head = 0;
  #complete = false;

  constructor(capacity = MAX_UNRELAYED_IN_MEMORY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`tail capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
  }

  /** Whether every unrelayed row is held (else older ones must be read from SQLite, below `firstId`). */
  get complete(): boolean {
    return this.#complete;
  }

  get size(): number {
    return this.#rows.length - this.#head;
  }

  /** The id of the oldest row held; Infinity when none is. */
  get firstId(): number {
    return this.size > 0 ? this.#rows[this.#head].id : Infinity;
  }

  /** Newly committed rows, in id order, all newer than any held. */
  add(rows: readonly StoredObservation[]): void {
    for (const row of rows) this.#rows.push(row);
    const over = this.size - this.#capacity;
    if (over > 0) {
      this.#head += over;
      this.#complete = false;
    }
    this.#compact();
  }

  /**
   * Rows read from SQLite below `firstId`, oldest first, from a read that
   * asked for `asked`. Fewer than asked means there are no others: they
   * are held in front, and the tail is complete.
   */
  readBelow(rows: readonly StoredObservation[], asked: number): void {
    if (rows.length >= asked) return;
    this.#rows = [...rows, ...this.#rows.slice(this.#head)];
    this.#head = 0;
    this.#complete = true;
    // The tail may now hold more than its capacity, by less than one read.
  }

  /** The oldest `limit` rows held. */
  oldest(limit: number): StoredObservation[] {
    return this.#rows.slice(this.#head, this.#head + limit);
  }

  /** Rows the cloud acknowledged leave the tail (ids it does not hold are ignored). */
  remove(ids: readonly number[]): void {
    if (this.size === 0 || ids.length === 0) return;
    const gone = new Set(ids);
    // The usual case: the acknowledged rows are the oldest held.
    while (this.#head < this.#rows.length && gone.delete(this.#rows[this.#head].id)) this.#head++;
    const first = this.firstId;
    let more = false;
    for (const id of gone) more ||= id >= first;
    if (more) {
      this.#rows = this.#rows.slice(this.#head).filter((row) => !gone.has(row.id));
      this.#head = 0;
    }
    this.#compact();
  }

  /** Rows changed in SQLite behind the tail's back: hold nothing, read everything from SQLite again. */
  invalidate(): void {
    this.#rows = [];
    this.#head = 0;
    this.#complete = false;
  }

  /** Drops the array's dead front once it is half the array, so pushing stays amortised O(1). */
  #compact(): void {
    if (this.#head > 0 && this.#head * 2 >= this.#rows.length) {
      this.#rows = this.#rows.slice(this.#head);
      this.#head = 0;
    }
  }
}
