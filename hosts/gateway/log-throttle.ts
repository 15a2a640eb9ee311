/*
 * At most one log line per key per interval, with a count of the events it
 * stood for: a flood of bad publishes must not become a flood of log lines.
 * Pure: the caller passes the clock's reading and does the logging.
 */

/** Keys are pruned once this many are held; a key only matters for one interval anyway. */
const PRUNE_AT_KEYS = 1024;

export interface ThrottleVerdict {
  /** Log a line now. */
  log: boolean;
  /** Events of this key not logged since its last line (include it in the line). */
  suppressed: number;
}

export class LogThrottle {
  readonly intervalMs: number;
  readonly #keys = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** Records one event of `key`. */
  note(key: string, now: number): ThrottleVerdict {
    const entry = this.#keys.get(key);
    if (entry !== undefined && now - entry.loggedAt < this.intervalMs) {
      entry.suppressed++;
      return { log: false, suppressed: entry.suppressed };
    }
    if (entry === undefined && this.#keys.size >= PRUNE_AT_KEYS) this.#prune(now);
    const suppressed = entry?.suppressed ?? 0;
    this.#keys.set(key, { loggedAt: now, suppressed: 0 });
    return { log: true, suppressed };
  }

  get size(): number {
    return this.#keys.size;
  }

  #prune(now: number): void {
    // An expired key's suppressed count is lost: at most one interval's worth, already counted by the caller's counters.
    for (const [key, entry] of this.#keys) if (now - entry.loggedAt >= this.intervalMs) this.#keys.delete(key);
  }
}
