/*
 * A rule's trace lines in the gateway's log, under its name, at most
 * TRACE_LINES_PER_SECOND (bursts of TRACE_BURST): a rule that traces every
 * observation must not fill the SD card. Lines over the rate are counted
 * and the next line logged says how many were not.
 */
import type { Logger } from "../../log/logger.js";
import { TokenBucket } from "../ingest/token-bucket.js";

export const TRACE_LINES_PER_SECOND = 2;
export const TRACE_BURST = 20;

export class RuleTrace {
  readonly #log: Logger;
  readonly #bucket: TokenBucket;
  #suppressed = 0;
  #total = 0;

  constructor(log: Logger, now: number) {
    this.#log = log;
    this.#bucket = new TokenBucket(TRACE_LINES_PER_SECOND, TRACE_BURST, now);
  }

  /** Lines the rule traced, logged or not. */
  get total(): number {
    return this.#total;
  }

  line(text: string, now: number, fields: Record<string, unknown>): void {
    this.#total++;
    if (this.#bucket.take(now, 0) !== 0) {
      this.#suppressed++;
      return;
    }
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#log.info(suppressed > 0 ? `${text} (${suppressed} trace lines not logged before this one)` : text, fields);
  }
}
