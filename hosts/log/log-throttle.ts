/*
 * At most one log line per key per interval, with a count of the events it
 * stood for: a flood of bad publishes must not become a flood of log lines.
 * Pure: the caller passes the clock's reading and does the logging.
 */

/**
 * Keys held at most. A key only matters for one interval; past this many
 * (a flood from many spoofed addresses, say) the least recently logged key
 * is forgotten, so its next event logs a line again: more lines, never more
 * memory.
 */
export const MAX_THROTTLED_KEYS = 1024;

export interface ThrottleVerdict {
  /** Log a line now. */
  log: boolean;
  /** Events of this key not logged since its last line (include it in the line). */
  suppressed: number;
}

export class LogThrottle {
  readonly intervalMs: number;
  readonly #maxKeys: number;
  // Insertion order is logging order: re-inserted on each line, so the first key is the least recently logged.
  readonly #keys = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(intervalMs: number, maxKeys = MAX_THROTTLED_KEYS) {
    this.intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
  }

  /** Records one event of `key`. */
  note(key: string, now: number): ThrottleVerdict {
    const entry = this.#keys.get(key);
    if (entry !== undefined && this.#within(entry.loggedAt, now)) {
      entry.suppressed++;
      return { log: false, suppressed: entry.suppressed };
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#keys.delete(key);
    if (this.#keys.size >= this.#maxKeys) this.#prune(now);
    this.#keys.set(key, { loggedAt: now, suppressed: 0 });
    return { log: true, suppressed };
  }

  get size(): number {
    return this.#keys.size;
  }

  /**
   * A clock that stepped back (callers may pass the wall clock, which NTP
   * sets) ends the interval: otherwise a key would stay silent for as long
   * as the step.
   */
  #within(loggedAt: number, now: number): boolean {
    return now >= loggedAt && now - loggedAt < this.intervalMs;
  }

  #prune(now: number): void {
    // An expired key's suppressed count is lost: at most one interval's worth, already counted by the caller's counters.
    for (const [key, entry] of this.#keys) if (!this.#within(entry.loggedAt, now)) this.#keys.delete(key);
    while (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value as string);
  }
}
