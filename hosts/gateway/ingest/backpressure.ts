/*
 * When the outbox (unrelayed observations) is too deep, the gateway stops
 * acknowledging instead of growing: publishes over the high-water mark are
 * held, unacknowledged, until the relay drains the outbox below the
 * low-water mark. While held, aedes reads no more of that device's socket,
 * so TCP slows the device down. Held publishes are bounded in number (and,
 * by the outbox, in time); past that they are refused, and the device keeps
 * them for later.
 *
 * Pure decisions with hysteresis; the outbox (outbox.ts) holds and releases.
 */

/**
 * 500,000 rows is about 100 MB of SQLite (roughly 200 bytes per row with
 * its indexes): days of backlog for a few hundred devices, far below the
 * default disk cap, so backpressure slows devices before eviction loses data.
 */
export const DEFAULT_OUTBOX_HIGH_WATER = 500_000;
/** Low water as a fraction of high: wide enough that devices are not switched on and off with every relay batch. */
export const DEFAULT_LOW_WATER_FRACTION = 0.9;
/** Publishes held at once; each is one small packet (≤ MAX_RECORD_BYTES) and a callback, so 10,000 stay within a few MB. */
export const DEFAULT_MAX_HELD = 10_000;
/** A publish held this long is refused: the device is better off keeping it than waiting on an ack that may not come. */
export const DEFAULT_MAX_HOLD_MS = 30_000;

export interface BackpressureLimits {
  highWater: number;
  lowWater: number;
  maxHeld: number;
}

export type Admission = "pass" | "hold" | "refuse";
/** What a new depth did to the gate: "over" it just crossed high water, "released" it just fell below low water. */
export type DepthChange = "over" | "released" | "steady";

export class BackpressureGate {
  readonly limits: BackpressureLimits;
  #over = false;

  constructor(limits: BackpressureLimits) {
    const { highWater, lowWater, maxHeld } = limits;
    if (!(Number.isInteger(highWater) && highWater >= 1)) throw new RangeError(`outboxHighWater must be a positive integer, got ${highWater}`);
    if (!(Number.isInteger(lowWater) && lowWater >= 1 && lowWater <= highWater)) {
      // Below 0 could never be reached, so held publishes would never be released.
      throw new RangeError(`outboxLowWater must be an integer from 1 to outboxHighWater (${highWater}), got ${lowWater}`);
    }
    if (!(Number.isInteger(maxHeld) && maxHeld >= 0)) throw new RangeError(`outbox max held must be a non-negative integer, got ${maxHeld}`);
    this.limits = limits;
  }

  get isOver(): boolean {
    return this.#over;
  }

  observe(depth: number): DepthChange {
    if (!this.#over && depth >= this.limits.highWater) {
      this.#over = true;
      return "over";
    }
    if (this.#over && depth < this.limits.lowWater) {
      this.#over = false;
      return "released";
    }
    return "steady";
  }

  /** What to do with a new publish, given the outbox depth and how many are already held. */
  admit(depth: number, held: number): Admission {
    this.observe(depth);
    if (!this.#over) return "pass";
    return held < this.limits.maxHeld ? "hold" : "refuse";
  }
}
