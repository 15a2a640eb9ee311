/*
 * What happens to a rule after a fault: it stops, and is retried after a
 * backoff from its last committed state, one event at a time until it is
 * past the event that failed; after MAX_CONSECUTIVE_FAILURES without a
 * success in between it is disabled until an operator enables it or
 * deploys a fix. Pure.
 *
 * A fault is usually deterministic (the same observation and state fail the
 * same way), so retrying forever would only spend the engine; retrying a
 * few times covers what is not (an engine restart under the rule, a memory
 * cap hit while another rule held memory).
 */
export const MAX_CONSECUTIVE_FAILURES = 3;
/** Waits before the 1st and 2nd retries: long enough that a crash loop costs little, short enough to recover quickly. */
export const RETRY_DELAYS_MS: readonly number[] = Object.freeze([1000, 5000]);

export type FaultDecision = { disable: true } | { disable: false; retryInMs: number };

export function afterFault(consecutiveFailures: number, delays: readonly number[] = RETRY_DELAYS_MS): FaultDecision {
  if (consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) return { disable: true };
  return { disable: false, retryInMs: delays[Math.min(consecutiveFailures, delays.length) - 1] ?? delays[0] };
}
