/*
 * When to reconnect the registration stream, free of I/O: exponential
 * backoff from 500 ms to 10 s (Akka's consumer does the same), back to the
 * start once a stream has been healthy, so one drop after a day of service
 * is retried at once, while a cloud that accepts and drops every stream is
 * not hammered.
 */
import { REGISTRATION_RETRY_INITIAL_MS, REGISTRATION_RETRY_MAX_MS, registrationRetryDelay } from "../event.js";

/**
 * A stream that stayed open this long was healthy even if it brought no
 * event (an idle registration stream is normal); a server refusing each
 * stream answers within milliseconds.
 */
export const HEALTHY_STREAM_MS = 5_000;

export class ReconnectBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;

  constructor(initialMs = REGISTRATION_RETRY_INITIAL_MS, maxMs = REGISTRATION_RETRY_MAX_MS) {
    if (!(initialMs > 0) || !(maxMs >= initialMs)) throw new RangeError(`retry delays must be 0 < initial <= max, got ${initialMs} and ${maxMs}`);
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
  }

  /** A stream ended: how long to wait before the next attempt. `healthy`: it delivered an event or stayed open HEALTHY_STREAM_MS. */
  ended(healthy: boolean): number {
    if (healthy) this.#failures = 0;
    this.#failures++;
    return registrationRetryDelay(this.#failures, this.#initialMs, this.#maxMs);
  }

  /** Whether a stream opened at `openedAt` and ended at `endedAt` counts as healthy. */
  static wasHealthy(deliveredEvents: boolean, openedAt: number, endedAt: number): boolean {
    return deliveredEvents || endedAt - openedAt >= HEALTHY_STREAM_MS;
  }
}
