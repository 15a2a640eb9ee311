/*
 * A token bucket with reservations, free of I/O and time: the caller passes
 * the clock's reading. A publish takes one token; with none left it may
 * reserve the next one (the balance goes negative), and is told how long
 * until that token is due, so the caller can delay it instead of refusing.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #updatedAt: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    if (!(ratePerSecond > 0)) throw new RangeError(`token bucket rate must be positive, got ${ratePerSecond}`);
    if (!(burst >= 1)) throw new RangeError(`token bucket burst must be at least 1, got ${burst}`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /**
   * Takes a token. Returns 0 when one was there, the ms until the reserved
   * token is due when the caller must wait, or null (and takes nothing) when
   * that wait would exceed `maxWaitMs`.
   */
  take(now: number, maxWaitMs: number): number | null {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    const waitMs = ((1 - this.#tokens) / this.ratePerSecond) * 1000;
    if (waitMs > maxWaitMs) return null;
    this.#tokens -= 1;
    return waitMs;
  }

  /** A full bucket behaves exactly like a new one, so its owner may forget it. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  #refill(now: number): void {
    // A clock that steps back must not drain the bucket.
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
    this.#updatedAt = now;
  }
}
