/*
 * Virtual time: the fleet's clock moves only when the driver runs it, and
 * moves straight to the next thing that happens, so a day of a fleet runs
 * in as long as its work takes, and repeats byte for byte for a seed.
 *
 * The workers step in lockstep windows. A window starts at the earliest
 * event (a device's timer, or a host event: a network delivery, the
 * gateway model's timers, a scenario's action) and lasts the network's
 * least latency: nothing a device sends inside a window can reach anything
 * before the window ends, so every worker can run its devices through the
 * window at once (in parallel, one worker a process), and what they sent is
 * then handed on in order of (time, device). Host events due inside the
 * window run first, in order; what they give devices is an input at its
 * own time, which the worker takes in order with the timers.
 */
import type { StepResult } from "../engine/fleet-worker.js";
import { NO_DEADLINE } from "../xs-fleet/fleet-protocol.js";
import type { FleetEngine } from "./fleet-engine.js";
import type { FleetDriver, StepHooks } from "./fleet-driver.js";
import { EventQueue } from "./event-queue.js";
import { Lateness } from "./fleet-stats.js";

/** Where virtual time starts unless told: a fixed instant, so runs repeat. */
export const VIRTUAL_EPOCH = Date.UTC(2026, 0, 1);

export interface VirtualDriverOptions {
  /** The clock's first reading, ms since the epoch. */
  start?: number;
  /** The network's least one-way latency, ms (at least 1): how far workers may run ahead of what they hear. */
  lookaheadMs: number;
}

export class VirtualDriver implements FleetDriver {
  readonly ordersOutputs = true;
  readonly queue = new EventQueue();
  readonly lookaheadMs: number;
  /** Windows run so far. */
  rounds = 0;
  #now: number;
  #engine: FleetEngine | undefined;
  #hooks: StepHooks | undefined;
  #next: number[] = [];
  readonly #woken = new Set<number>();
  #running = false;

  constructor(options: VirtualDriverOptions) {
    if (!(options.lookaheadMs >= 1)) throw new RangeError(`virtual time needs a least latency of at least 1 ms, got ${options.lookaheadMs}`);
    this.lookaheadMs = options.lookaheadMs;
    this.#now = options.start ?? VIRTUAL_EPOCH;
  }

  now(): number {
    return this.#now;
  }

  attach(engine: FleetEngine, hooks: StepHooks): void {
    this.#engine = engine;
    this.#hooks = hooks;
    this.#next = engine.workers.map(() => NO_DEADLINE);
  }

  wake(worker: number): void {
    this.#woken.add(worker);
  }

  /** Runs `run` at virtual time `at` (not before now). */
  schedule(at: number, run: () => void): void {
    this.queue.schedule(Math.max(at, this.#now), run);
  }

  /**
   * Runs the fleet until `end` (not included), window by window;
   * `afterWindow` is told each window's end (a progress bar, a check).
   */
  async runUntil(end: number, afterWindow?: (now: number) => void | Promise<void>): Promise<void> {
    if (this.#running) throw new Error("the virtual clock is already running");
    // Without a fleet (a model's tests), only host events run.
    const engine = this.#engine;
    this.#running = true;
    try {
      for (;;) {
        const start = Math.max(this.#now, Math.min(this.#earliestDeadline(), this.queue.next, this.#woken.size > 0 ? this.#now : Infinity));
        if (start >= end) break;
        const windowEnd = Math.min(start + this.lookaheadMs, end);
        this.#now = start;
        for (let event = this.queue.take(windowEnd); event; event = this.queue.take(windowEnd)) {
          this.#now = Math.max(this.#now, event.at);
          event.run();
        }
        if (engine) await this.#stepWorkers(engine, windowEnd);
        this.#now = windowEnd;
        this.rounds++;
        engine?.flushOutputs();
        await afterWindow?.(this.#now);
      }
      if (end > this.#now && Number.isFinite(end)) this.#now = end;
    } finally {
      this.#running = false;
    }
  }

  /** Hands the workers what was queued for them now, without moving the clock. */
  async settled(): Promise<void> {
    if (this.#running || !this.#engine || this.#woken.size === 0) return;
    await this.#stepWorkers(this.#engine, this.#now);
    this.#engine.flushOutputs();
  }

  lateness(): Lateness[] {
    // Virtual time is never late.
    return [new Lateness()];
  }

  async stop(): Promise<void> {}

  #earliestDeadline(): number {
    let earliest = Infinity;
    for (const next of this.#next) if (next !== NO_DEADLINE && next < earliest) earliest = next;
    return earliest;
  }

  async #stepWorkers(engine: FleetEngine, until: number): Promise<void> {
    const hooks = this.#hooks!;
    const due = engine.workers.map((worker, w) => ({ worker, w })).filter(({ worker, w }) => {
      return this.#woken.has(w) || worker.pendingInputs > 0 || (this.#next[w] !== NO_DEADLINE && this.#next[w] < until);
    });
    this.#woken.clear();
    await Promise.all(due.map(async ({ worker, w }) => {
      hooks.beforeStep(w);
      const result: StepResult = await worker.step(until, true);
      this.#next[w] = result.next;
      // Cut short (too much due at once): the rest is due again at once.
      if (result.reached < until) this.#woken.add(w);
      hooks.afterStep(w, result);
    }));
  }
}
