/*
 * Runs one fleet worker against the machine's clock: a step as soon as
 * inputs wait (a socket's bytes), or when the worker's earliest timer falls
 * due, but never two steps of a worker closer than MIN_STEP_INTERVAL_MS, so
 * a busy fleet's many events share a step rather than each crossing alone.
 */
import type { FleetWorker, StepResult } from "../engine/fleet-worker.js";
import { NO_DEADLINE } from "../xs-fleet/fleet-protocol.js";
import { Lateness } from "./fleet-stats.js";

/** Timers fire up to this much late; the price of one crossing per worker for many devices. */
export const MIN_STEP_INTERVAL_MS = 5;

export class RealTimeStepper {
  readonly lateness = new Lateness();
  readonly #worker: FleetWorker;
  readonly #after: (result: StepResult) => void;
  readonly #onError: (error: unknown) => void;
  readonly #before: () => void;
  #timer: NodeJS.Timeout | undefined;
  #stepping: Promise<void> | undefined;
  #again = false;
  #next = NO_DEADLINE;
  #lastStart = 0;
  #stopped = false;

  constructor(worker: FleetWorker, after: (result: StepResult) => void, onError: (error: unknown) => void, before: () => void = () => {}) {
    this.#worker = worker;
    this.#after = after;
    this.#onError = onError;
    this.#before = before;
  }

  /** Inputs are waiting: step soon. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#stepping) this.#again = true;
    else this.#arm(this.#lastStart + MIN_STEP_INTERVAL_MS - Date.now());
  }

  /** Stops stepping; resolves once a step in flight has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#stepping;
  }

  /** Resolves once the inputs queued so far have been handled. */
  async settled(): Promise<void> {
    while (!this.#stopped && (this.#stepping || this.#worker.pendingInputs > 0)) {
      if (!this.#stepping) this.wake();
      await (this.#stepping ?? new Promise((resolve) => setTimeout(resolve, MIN_STEP_INTERVAL_MS)));
    }
  }

  #arm(delay: number): void {
    if (this.#stopped) return;
    const ms = Math.max(0, Math.min(delay, 0x7fffffff));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#stepping = this.#step().finally(() => (this.#stepping = undefined)).then(() => this.#afterStep());
    }, ms);
  }

  async #step(): Promise<void> {
    this.#again = false;
    const start = Date.now();
    this.#lastStart = start;
    if (this.#next !== NO_DEADLINE && this.#next <= start) this.lateness.add(start - this.#next);
    try {
      this.#before();
      const result = await this.#worker.step(start);
      this.#next = result.next;
      if (result.reached < start) this.#again = true;
      this.#after(result);
    } catch (error) {
      if (!this.#stopped) this.#onError(error);
    }
  }

  #afterStep(): void {
    if (this.#stopped) return;
    const earliest = this.#lastStart + MIN_STEP_INTERVAL_MS - Date.now();
    if (this.#again || this.#worker.pendingInputs > 0) this.#arm(earliest);
    else if (this.#next !== NO_DEADLINE) this.#arm(Math.max(earliest, this.#next - Date.now()));
  }
}
