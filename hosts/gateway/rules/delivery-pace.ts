/*
 * How often a caught-up rule is sent a delivery. Every device commit wakes
 * every rule, and each delivery costs the gateway's event loop the same
 * whatever it carries (a request and a reply through the pipes, and the
 * rule's whole state back, committed with its offset), so a rule that keeps
 * up is sent what came in at most every MIN_DELIVERY_GAP_MS, in one
 * delivery, rather than a delivery per group commit. A rule with a backlog
 * is not paced (its deliveries are full ones). On the monotonic clock, not
 * the gateway's (which tests may hold still).
 */
import { performance } from "node:perf_hooks";

/**
 * At most 20 deliveries a second per rule: a rule's outputs come up to this much later. Fewer deliveries cost less
 * CPU (with the bench's ten rules at 1,000 observations a second, shared machine: their worker's CPU per observation
 * 460-540 µs at a 20 ms gap, 270-410 µs at 100 ms, most of it the rules' states sent back with every delivery), but
 * a delivery is committed whole, in one turn of the event loop: at 100 ms a rule deriving one observation per
 * observation had 100 to commit at once (about 2.4 ms), at 50 ms half that.
 */
export const MIN_DELIVERY_GAP_MS = 50;

export class DeliveryPace {
  readonly #gapMs: number;
  #lastStart = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(gapMs = MIN_DELIVERY_GAP_MS) {
    this.#gapMs = gapMs;
  }

  /** A delivery (or a look at the store) starts now. */
  started(): void {
    this.#lastStart = performance.now();
  }

  /** Runs `next` now if the gap since the last start has passed, else once it has (once, however often asked meanwhile). */
  schedule(next: () => void): void {
    if (this.#timer !== undefined) return;
    const wait = this.#lastStart + this.#gapMs - performance.now();
    if (wait <= 0) return next();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      next();
    }, Math.ceil(wait));
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
