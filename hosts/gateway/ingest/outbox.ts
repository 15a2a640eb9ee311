/*
 * The gateway's durable outbox, as the broker sees it: `submit` a publish,
 * get its outcome once it is committed. On the way in, the per-device rate
 * limit (rate-limiter.ts) may delay or refuse it and backpressure
 * (backpressure.ts) may hold or refuse it; then the group commit
 * (queue.ts) stores it, and the disk cap (../store/disk-cap.ts) is checked.
 *
 * The outbox's depth (unrelayed observations) is the store's own count,
 * kept in memory by its tally (../store/tally.ts) as rows are committed,
 * relayed and evicted: nothing per publish counts rows, and the API, the
 * metrics and backpressure all read the one number.
 *
 * This is the thin shell: timers, promises and log lines. Every decision
 * belongs to one of the pure classes above.
 */
import type { Logger } from "../../log/logger.js";
import { BackpressureGate, DEFAULT_LOW_WATER_FRACTION, DEFAULT_MAX_HELD, DEFAULT_MAX_HOLD_MS, DEFAULT_OUTBOX_HIGH_WATER } from "./backpressure.js";
import { DiskCap } from "../store/disk-cap.js";
import type { Ingest, IngestOutcome, PublishInput } from "./ingest.js";
import { IngestQueue, type GroupCommitStats } from "./queue.js";
import { LogThrottle } from "../../log/log-throttle.js";
import type { ObservationStore } from "../store/observation-store.js";
import { DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_SECOND, MAX_RATE_DELAY_MS, RateLimiter } from "./rate-limiter.js";

/** One log line per client (rate limit) or per kind (backpressure) per 10 s, with the count of the rest. */
export const OVERLOAD_LOG_INTERVAL_MS = 10_000;

/** Why a publish was not taken: the broker answers with a disconnect and no PUBACK, so the device keeps it. */
export class OutboxRefusal extends Error {
  readonly reason: "rate-limit" | "backpressure" | "closing";
  constructor(reason: OutboxRefusal["reason"], message: string) {
    super(message);
    this.name = "OutboxRefusal";
    this.reason = reason;
  }
}

export interface OutboxOptions {
  store: ObservationStore;
  ingest: Ingest;
  logger: Logger;
  /** Default DEFAULT_OUTBOX_MAX_BYTES (1 GiB). */
  maxBytes?: number;
  /** Unrelayed observations above which publishes are held; default DEFAULT_OUTBOX_HIGH_WATER. */
  highWater?: number;
  /** Held publishes are released below this; default 90% of highWater. */
  lowWater?: number;
  maxHeld?: number;
  maxHoldMs?: number;
  /** Publishes per second per MQTT client id; Infinity for no limit. */
  rateLimitPerSecond?: number;
  rateLimitBurst?: number;
  maxGroup?: number;
  now?: () => number;
  /** Called after a commit that stored new observations (the relay's wake-up). */
  onStored?: () => void;
}

export interface OutboxStats extends GroupCommitStats {
  /** Unrelayed observations. */
  depth: number;
  /** -1 once the store is closed. */
  usedBytes: number;
  maxBytes: number;
  highWater: number;
  lowWater: number;
  /** Publishes held right now for backpressure. */
  held: number;
  evictedRelayed: number;
  evictedUnrelayed: number;
  quarantineEvicted: number;
  /** Publishes ever held, and refused (held too long, or too many held). */
  heldForBackpressure: number;
  refusedForBackpressure: number;
  /** Publishes delayed, and refused, by the per-device rate limit. */
  rateLimited: number;
  rateRefused: number;
}

type HoldEnd = "released" | "expired" | "closing";

interface Held {
  end(how: HoldEnd): void;
}

function refused(error: OutboxRefusal): IngestOutcome {
  return { kind: "failed", error };
}

export class Outbox {
  readonly #store: ObservationStore;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #queue: IngestQueue;
  readonly #diskCap: DiskCap;
  readonly #gate: BackpressureGate;
  readonly #rate: RateLimiter;
  readonly #logThrottle = new LogThrottle(OVERLOAD_LOG_INTERVAL_MS);
  readonly #maxHoldMs: number;
  readonly #onStored: () => void;
  readonly #held = new Set<Held>();
  readonly #delays = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();
  #closed = false;
  #counts = { heldForBackpressure: 0, refusedForBackpressure: 0, rateLimited: 0, rateRefused: 0 };

  constructor(options: OutboxOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#onStored = options.onStored ?? (() => {});
    this.#diskCap = new DiskCap({ store: options.store, logger: options.logger, maxBytes: options.maxBytes });
    const highWater = options.highWater ?? DEFAULT_OUTBOX_HIGH_WATER;
    const lowWater = options.lowWater ?? Math.max(1, Math.floor(highWater * DEFAULT_LOW_WATER_FRACTION));
    this.#gate = new BackpressureGate({ highWater, lowWater, maxHeld: options.maxHeld ?? DEFAULT_MAX_HELD });
    this.#maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
    this.#rate = new RateLimiter({
      ratePerSecond: options.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT_PER_SECOND,
      burst: options.rateLimitBurst ?? DEFAULT_RATE_LIMIT_BURST,
      maxDelayMs: MAX_RATE_DELAY_MS,
    });
    this.#queue = new IngestQueue({
      ingest: options.ingest,
      store: options.store,
      logger: options.logger,
      maxGroup: options.maxGroup,
      onCommitted: (outcomes) => this.#committed(outcomes),
    });
    this.#gate.observe(this.#depth);
  }

  /** Resolves (never rejects) with the publish's outcome once committed; "failed" means: no PUBACK. */
  submit(input: PublishInput): Promise<IngestOutcome> {
    return new Promise((resolve) => this.offer(input, resolve));
  }

  /**
   * As `submit`, without a promise per publish (the device listener's
   * path): `done` is called once, with the outcome and the input, after
   * the commit; or sooner, for a refusal.
   */
  offer<T extends PublishInput>(input: T, done: (outcome: IngestOutcome, input: T) => void): void {
    if (this.#closed) return done(refused(new OutboxRefusal("closing", "gateway is closing")), input);
    if (input.clientId !== null) {
      const decision = this.#rate.decide(input.clientId, this.#now());
      if (decision.kind === "refuse") return done(this.#rateRefuse(input.clientId), input);
      if (decision.kind === "delay") {
        this.#counts.rateLimited++;
        this.#overloadLog("info", `rate:${input.clientId}`, `rate limit: slowing ${input.clientId} down (over ${this.#rateText()})`, { clientId: input.clientId });
        this.#sleep(decision.ms).then(() => {
          if (this.#closed) done(refused(new OutboxRefusal("closing", "gateway is closing")), input);
          else this.#admit(input, done);
        });
        return;
      }
    }
    this.#admit(input, done);
  }

  /** Past the rate limit: backpressure may hold or refuse it, else it joins the next group commit. */
  #admit<T extends PublishInput>(input: T, done: (outcome: IngestOutcome, input: T) => void): void {
    const admission = this.#gate.admit(this.#depth, this.#held.size);
    if (admission === "refuse") return done(this.#backpressureRefuse(input, `${this.#held.size} publishes already held, the most allowed`), input);
    if (admission === "pass") return this.#queue.enqueue(input, done);
    this.#hold().then((end) => {
      if (end === "expired") done(this.#backpressureRefuse(input, `held for ${this.#maxHoldMs} ms without the outbox draining`), input);
      else if (end === "closing") done(refused(new OutboxRefusal("closing", "gateway is closing")), input);
      else this.#queue.enqueue(input, done);
    });
  }

  /**
   * `count` observations were committed outside `submit` (UDP, which has no
   * acknowledgement to withhold, so neither backpressure nor the MQTT rate
   * limit applies to it): they count toward the depth all the same.
   */
  noteStored(count: number): void {
    this.#afterCommit(count, false);
  }

  /** The relay marked rows relayed (the store has counted them): held publishes may go. */
  relayed(): void {
    this.#checkRelease();
  }

  get depth(): number {
    return this.#depth;
  }

  get #depth(): number {
    return this.#store.unrelayedCount();
  }

  stats(): OutboxStats {
    const { highWater, lowWater } = this.#gate.limits;
    return {
      depth: this.#depth,
      usedBytes: this.#store.isOpen ? this.#store.usedBytes() : -1,
      maxBytes: this.#diskCap.maxBytes,
      highWater,
      lowWater,
      held: this.#held.size,
      ...this.#diskCap.counters(),
      ...this.#counts,
      ...this.#queue.stats(),
    };
  }

  /** Commits what is queued, and ends every hold and delay (those publishes get no PUBACK). Call before closing the store. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const held of [...this.#held]) held.end("closing");
    for (const delay of [...this.#delays]) {
      clearTimeout(delay.timer);
      delay.resolve();
    }
    this.#delays.clear();
    this.#queue.flush();
  }

  #committed(outcomes: readonly IngestOutcome[]): void {
    let stored = 0;
    let quarantined = false;
    for (const outcome of outcomes) {
      if (outcome.kind === "stored") stored++;
      else if (outcome.kind === "batch") {
        stored += outcome.stored;
        quarantined ||= outcome.conflicts > 0;
      } else if (outcome.kind === "refused") quarantined = true;
    }
    this.#afterCommit(stored, quarantined);
  }

  #afterCommit(stored: number, quarantined: boolean): void {
    try {
      this.#diskCap.enforce(quarantined);
    } catch (e) {
      // The publishes are committed either way; a cap that cannot be enforced must not fail them.
      // A full disk fails this after every commit: throttled like the commit failures themselves.
      const { log, suppressed } = this.#logThrottle.note("disk-cap", this.#now());
      if (log) this.#log.error(`could not enforce the outbox disk cap: ${(e as Error).message}${suppressed > 0 ? ` (${suppressed} more like this since the last such line)` : ""}`, { error: e, suppressed });
    }
    if (this.#gate.observe(this.#depth) === "over") {
      this.#log.warn(`outbox over high-water mark (${this.#depth} unrelayed): holding acknowledgements until it is below ${this.#gate.limits.lowWater}`, {
        depth: this.#depth,
        highWater: this.#gate.limits.highWater,
        lowWater: this.#gate.limits.lowWater,
      });
    }
    this.#checkRelease();
    if (stored > 0) this.#onStored();
  }

  #checkRelease(): void {
    if (this.#gate.observe(this.#depth) !== "released") return;
    this.#log.info(`outbox below low-water mark (${this.#depth} unrelayed): releasing ${this.#held.size} held publishes`, {
      depth: this.#depth,
      released: this.#held.size,
    });
    for (const held of [...this.#held]) held.end("released");
  }

  #hold(): Promise<HoldEnd> {
    this.#counts.heldForBackpressure++;
    return new Promise((resolve) => {
      const held: Held = {
        end: (how) => {
          clearTimeout(timer);
          this.#held.delete(held);
          resolve(how);
        },
      };
      const timer = setTimeout(() => held.end("expired"), this.#maxHoldMs);
      this.#held.add(held);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const delay = {
        timer: setTimeout(() => {
          this.#delays.delete(delay);
          resolve();
        }, ms),
        resolve,
      };
      this.#delays.add(delay);
    });
  }

  #rateText(): string {
    const { ratePerSecond, burst } = this.#rate.limit;
    return `${ratePerSecond} publishes/s, burst ${burst}`;
  }

  #rateRefuse(clientId: string): IngestOutcome {
    this.#counts.rateRefused++;
    const message = `rate limit: refusing publishes from ${clientId} (over ${this.#rateText()} by more than ${MAX_RATE_DELAY_MS} ms); disconnecting it, unacknowledged`;
    this.#overloadLog("warn", `refuse:${clientId}`, message, { clientId });
    return refused(new OutboxRefusal("rate-limit", message));
  }

  #backpressureRefuse(input: PublishInput, why: string): IngestOutcome {
    this.#counts.refusedForBackpressure++;
    const message = `outbox over high-water mark (${this.#depth} unrelayed): refusing publish from ${input.clientId ?? "(will)"}: ${why}`;
    this.#overloadLog("warn", "backpressure", message, { clientId: input.clientId, depth: this.#depth, held: this.#held.size });
    return refused(new OutboxRefusal("backpressure", message));
  }

  #overloadLog(level: "info" | "warn", key: string, message: string, fields: Record<string, unknown>): void {
    const { log, suppressed } = this.#logThrottle.note(key, this.#now());
    if (!log) return;
    const more = suppressed > 0 ? ` (${suppressed} more like this since the last such line)` : "";
    this.#log[level](message + more, { ...fields, suppressed });
  }
}
