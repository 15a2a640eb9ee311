/*
 * Flood protection for a transport without acknowledgements: a token bucket
 * per source address. UDP cannot slow a sender down, so datagrams over the
 * limit are dropped (and counted) before they cost a decode or an fsync.
 * Pure: the caller passes the time, from a monotonic clock.
 */

export interface TokenBucketOptions {
  /** Burst: tokens a full bucket holds. */
  capacity: number;
  /** Steady rate; 0 never refills. */
  refillPerSecond: number;
}

/** One sender's allowance. */
export class TokenBucket {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions, nowMs: number) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond >= 0)) {
      throw new RangeError(`token bucket: capacity must be at least 1 and refillPerSecond at least 0, got ${options.capacity} and ${options.refillPerSecond}`);
    }
    this.#capacity = options.capacity;
    this.#refillPerMs = options.refillPerSecond / 1000;
    this.#tokens = options.capacity;
    this.#at = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    // A clock that went backwards refills nothing rather than draining.
    const elapsed = Math.max(0, nowMs - this.#at);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#refillPerMs);
    this.#at = Math.max(this.#at, nowMs);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Sources remembered at once. A LAN gateway hears from tens of addresses;
 * 1,024 buckets are a few tens of KB, and a flood from more addresses than
 * that (spoofed) evicts the least recently heard, which restarts full.
 */
export const MAX_TRACKED_SOURCES = 1024;

/**
 * Default per-address allowance: the sample's sensors send about once a
 * second, so 20 a second lets one host simulate 20 sensors, and caps what a
 * flooding address costs at 20 commits a second. A burst of 50 absorbs a
 * backlog sent at once after a network outage.
 */
export const DEFAULT_SOURCE_LIMIT: TokenBucketOptions = Object.freeze({ capacity: 50, refillPerSecond: 20 });

export interface SourceLimitOptions extends TokenBucketOptions {
  maxSources?: number;
}

/** A token bucket per source key (an IP address), least recently heard evicted first. */
export class SourceLimit {
  readonly #options: TokenBucketOptions;
  readonly #maxSources: number;
  // Map iteration order is insertion order: re-inserting on use keeps the least recent first.
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(options: SourceLimitOptions = DEFAULT_SOURCE_LIMIT) {
    this.#options = { capacity: options.capacity, refillPerSecond: options.refillPerSecond };
    this.#maxSources = options.maxSources ?? MAX_TRACKED_SOURCES;
    if (!(this.#maxSources >= 1)) throw new RangeError(`source limit: maxSources must be at least 1, got ${this.#maxSources}`);
    new TokenBucket(this.#options, 0); // validates the options now rather than at the first datagram
  }

  /** True when `source` may send one more now. */
  take(source: string, nowMs: number): boolean {
    let bucket = this.#buckets.get(source);
    if (bucket) this.#buckets.delete(source);
    else {
      bucket = new TokenBucket(this.#options, nowMs);
      if (this.#buckets.size >= this.#maxSources) this.#buckets.delete(this.#buckets.keys().next().value as string);
    }
    this.#buckets.set(source, bucket);
    return bucket.take(nowMs);
  }

  get trackedSources(): number {
    return this.#buckets.size;
  }
}
