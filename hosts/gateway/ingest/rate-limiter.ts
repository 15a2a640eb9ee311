/*
 * The per-device rate limit: one token bucket per MQTT client id. Pure; the
 * outbox (outbox.ts) performs the delays and refusals it decides.
 *
 * A publish is one token whatever it carries, a batch record included. The
 * cost being protected is per publish (a parse, a place in a commit, a
 * PUBACK), the decision is made before the payload is decoded (so garbage
 * is limited as cheaply as records), and batches are how a device with a
 * backlog catches up: counting their observations would push exactly those
 * devices into the limit. A batch's size is bounded by MAX_RECORD_BYTES.
 */
import { TokenBucket } from "./token-bucket.js";

/** 100 publishes/s is ten times a device sampling every 100 ms; a device with more to send batches it. */
export const DEFAULT_RATE_LIMIT_PER_SECOND = 100;
/** Two seconds' worth: a device reconnecting after an outage may send its in-flight window at once. */
export const DEFAULT_RATE_LIMIT_BURST = 200;
/**
 * A publish whose token is due within this long is delayed (slowing the
 * device: aedes reads no more of its socket meanwhile); later, it is refused.
 * One second keeps the wait under a device's usual ack timeout.
 */
export const MAX_RATE_DELAY_MS = 1000;
/** Buckets are pruned (the full ones forgotten) when the map has grown to twice its size after the last prune, and at least this. */
const PRUNE_AT_CLIENTS = 1024;

export interface RateLimit {
  /** Infinity turns the limit off (a benchmark, a trusted LAN). */
  ratePerSecond: number;
  burst: number;
  maxDelayMs: number;
}

export type RateDecision = { kind: "pass" } | { kind: "delay"; ms: number } | { kind: "refuse" };

export class RateLimiter {
  readonly limit: RateLimit;
  readonly #buckets = new Map<string, TokenBucket>();
  #pruneAt = PRUNE_AT_CLIENTS;

  constructor(limit: RateLimit) {
    if (!(limit.ratePerSecond > 0)) throw new RangeError(`rateLimitPerSecond must be positive (Infinity for none), got ${limit.ratePerSecond}`);
    if (!(limit.burst >= 1)) throw new RangeError(`rateLimitBurst must be at least 1, got ${limit.burst}`);
    this.limit = limit;
  }

  decide(clientId: string, now: number): RateDecision {
    if (this.limit.ratePerSecond === Infinity) return { kind: "pass" };
    let bucket = this.#buckets.get(clientId);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#pruneAt) this.#prune(now);
      bucket = new TokenBucket(this.limit.ratePerSecond, this.limit.burst, now);
      this.#buckets.set(clientId, bucket);
    }
    const waitMs = bucket.take(now, this.limit.maxDelayMs);
    if (waitMs === null) return { kind: "refuse" };
    return waitMs === 0 ? { kind: "pass" } : { kind: "delay", ms: waitMs };
  }

  /** Clients with a bucket (for tests and stats). */
  get clients(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    for (const [clientId, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(clientId);
    this.#pruneAt = Math.max(PRUNE_AT_CLIENTS, this.#buckets.size * 2);
  }
}
