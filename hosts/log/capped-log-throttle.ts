/*
 * LogThrottle per key, plus a cap on lines per interval over all keys: a
 * flood from ever new addresses makes every key a first one, so without the
 * cap it would still make a line per request. What the cap leaves out is
 * handed to the next line that is logged, to be said there. Pure: the
 * caller passes the clock's reading and writes the lines.
 */
import { LogThrottle, MAX_THROTTLED_KEYS } from "./log-throttle.js";

export type CappedVerdict =
  | { log: false }
  /** `suppressed`: this key's events since its last line; `unlogged`: other events the cap left out since the last line. */
  | { log: true; suppressed: number; unlogged: number };

export class CappedLogThrottle {
  readonly intervalMs: number;
  readonly maxLines: number;
  readonly #perKey: LogThrottle;
  #windowStart = Number.NEGATIVE_INFINITY;
  #lines = 0;
  #unlogged = 0;

  constructor(intervalMs: number, maxLines: number, maxKeys = MAX_THROTTLED_KEYS) {
    if (!(maxLines >= 1)) throw new RangeError(`maxLines must be at least 1, got ${maxLines}`);
    this.intervalMs = intervalMs;
    this.maxLines = maxLines;
    this.#perKey = new LogThrottle(intervalMs, maxKeys);
  }

  note(key: string, now: number): CappedVerdict {
    const line = this.#perKey.note(key, now);
    if (!line.log) return { log: false };
    // A clock that stepped back starts a new window, as in LogThrottle.
    if (now < this.#windowStart || now - this.#windowStart >= this.intervalMs) {
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (this.#lines >= this.maxLines) {
      this.#unlogged += 1 + line.suppressed;
      return { log: false };
    }
    this.#lines++;
    const unlogged = this.#unlogged;
    this.#unlogged = 0;
    return { log: true, suppressed: line.suppressed, unlogged };
  }
}
