/*
 * Flood protection for a transport without acknowledgements: a token bucket
 * per source address. UDP cannot slow a sender down, so datagrams over the
 * limit are dropped (and counted) before they cost a decode or an fsync.
 * Pure: the caller passes the time, from a monotonic clock.
 */
import { TokenBucket } from "../token-bucket.js";

export interface TokenBucketOptions {
  /** Burst: tokens a full bucket holds. */
  capacity: number;
  /** Steady rate, above 0. */
  refillPerSecond: number;
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
    this.#bucket(0); // validates the options now rather than at the first datagram
  }

  /** True when `source` may send one more now. */
  take(source: string, nowMs: number): boolean {
    let bucket = this.#buckets.get(source);
    if (bucket) this.#buckets.delete(source);
    else {
      bucket = this.#bucket(nowMs);
      if (this.#buckets.size >= this.#maxSources) this.#buckets.delete(this.#buckets.keys().next().value as string);
    }
    this.#buckets.set(source, bucket);
    // No waiting: a datagram cannot be delayed, only dropped.
    return bucket.take(nowMs, 0) === 0;
  }

  #bucket(nowMs: number): TokenBucket {
    return new TokenBucket(this.#options.refillPerSecond, this.#options.capacity, nowMs);
  }

  get trackedSources(): number {
    return this.#buckets.size;
  }
}
