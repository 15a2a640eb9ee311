/*
 * Refused credentials, counted and logged: every refusal counts, and the log
 * gets the first of each (reason, address) at once, then at most one line
 * per key and interval with the number left out, and at most
 * MAX_AUTH_LINES_PER_INTERVAL lines per interval in all, so a password
 * sprayer from ever new addresses costs counters, not the disk. A line
 * names what was asked and who asked, never what was presented.
 */
import type { Logger } from "../log/logger.js";
import { CappedLogThrottle } from "../log/capped-log-throttle.js";

/** As the gateway's other refusal lines (ingest/refusal-log.ts): one per key per 10 s. */
export const AUTH_LOG_INTERVAL_MS = 10_000;
/** Lines per interval, all keys together: two a second at most. */
export const MAX_AUTH_LINES_PER_INTERVAL = 20;

/**
 * missing: no credential (401); invalid: one that matches no token, or a
 * malformed header (401); forbidden: a valid credential whose role may not
 * do this (403).
 */
export const AUTH_REFUSAL_REASONS = ["missing", "invalid", "forbidden"] as const;
export type AuthRefusalReason = (typeof AUTH_REFUSAL_REASONS)[number];

const WORDS: Record<AuthRefusalReason, string> = {
  missing: "no credential",
  invalid: "a credential that matches no token",
  forbidden: "a credential whose role may not do this",
};

export class AuthRefusals {
  readonly #counts: Record<AuthRefusalReason, number> = { missing: 0, invalid: 0, forbidden: 0 };
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #throttle: CappedLogThrottle;

  constructor(logger: Logger, now: () => number = Date.now, intervalMs = AUTH_LOG_INTERVAL_MS, maxLines = MAX_AUTH_LINES_PER_INTERVAL) {
    this.#log = logger;
    this.#now = now;
    this.#throttle = new CappedLogThrottle(intervalMs, maxLines);
  }

  /** Counts one refusal of `what` (e.g. "POST /api/v1/sensors") from `address`, and logs it unless throttled. */
  refuse(reason: AuthRefusalReason, what: string, address: string, detail?: string): void {
    this.#counts[reason]++;
    const line = this.#throttle.note(`${reason}\u0000${address}`, this.#now());
    if (!line.log) return;
    if (line.unlogged > 0) {
      const { maxLines, intervalMs } = this.#throttle;
      this.#log.warn(`${line.unlogged} credential refusals not logged: over ${maxLines} lines in ${intervalMs / 1000} s (the counters have every one)`, { unlogged: line.unlogged });
    }
    const more = line.suppressed > 0 ? ` (${line.suppressed} more like this since the last such line)` : "";
    this.#log.warn(`refused ${what.slice(0, 200)} from ${address}: ${WORDS[reason]}${detail ? ` (${detail})` : ""}${more}`, {
      reason, address, suppressed: line.suppressed,
    });
  }

  /** Refusals so far, by reason. */
  counts(): Record<AuthRefusalReason, number> {
    return { ...this.#counts };
  }
}
