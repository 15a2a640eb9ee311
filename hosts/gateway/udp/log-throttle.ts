/*
 * Keeps a flood of bad input from flooding the log: at most one line per
 * source per interval, and that line says how many were held back since
 * the one before. Counters still see every event. Pure: the caller passes
 * the time.
 */

/** One line per source per 10 s: a misbehaving sender stays visible without drowning the rest. */
export const LOG_INTERVAL_MS = 10_000;

/** Sources remembered at once (see MAX_TRACKED_SOURCES in source-limit.ts for the size). */
export const MAX_THROTTLED_SOURCES = 1024;

export class LogThrottle {
  readonly #intervalMs: number;
  readonly #maxSources: number;
  readonly #sources = new Map<string, { loggedAt: number; held: number }>();

  constructor(intervalMs = LOG_INTERVAL_MS, maxSources = MAX_THROTTLED_SOURCES) {
    this.#intervalMs = intervalMs;
    this.#maxSources = maxSources;
  }

  /**
   * Notes one event from `source`. Returns how many events were held back
   * since its last line when this one should be logged, undefined when not.
   */
  admit(source: string, nowMs: number): { held: number } | undefined {
    const state = this.#sources.get(source);
    if (state && nowMs - state.loggedAt < this.#intervalMs) {
      state.held++;
      return undefined;
    }
    // Re-inserted so the least recently logged source is evicted first.
    this.#sources.delete(source);
    if (this.#sources.size >= this.#maxSources) this.#sources.delete(this.#sources.keys().next().value as string);
    this.#sources.set(source, { loggedAt: nowMs, held: 0 });
    return { held: state?.held ?? 0 };
  }
}
