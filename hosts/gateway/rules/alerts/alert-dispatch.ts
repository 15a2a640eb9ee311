/*
 * Sends the alerts outbox to every sink, at least once each: a sink reads
 * from its own cursor in SQLite, in order, and moves the cursor only after
 * its receiver took the alert. A failure is retried with exponential
 * backoff (ALERT_RETRY_INITIAL_MS doubling to ALERT_RETRY_MAX_MS); a
 * refusal (SinkRefusal) is skipped, counted and logged, so one alert a
 * receiver will never take does not block the ones after it.
 *
 * The outbox keeps what some sink still needs, plus the newest
 * ALERTS_KEPT for the API; older alerts are deleted.
 */
import type { Logger } from "../../../log/logger.js";
import type { ObservationStore } from "../../store/observation-store.js";
import { alertMessage, SinkRefusal, type AlertSink } from "./alert-message.js";

export const ALERT_RETRY_INITIAL_MS = 500;
export const ALERT_RETRY_MAX_MS = 60_000;
/** Alerts kept after every sink has them: what GET /api/v1/rules/alerts and the SSE stream's resume can reach. */
export const ALERTS_KEPT = 10_000;
/** Alerts read from the outbox at a time. */
const READ_ALERTS = 50;

export interface SinkStats {
  target: string;
  delivered: number;
  failures: number;
  refused: number;
  /** Alerts not yet delivered. */
  backlog: number;
  lastError: string | null;
}

class SinkLoop {
  readonly sink: AlertSink;
  readonly stats: Omit<SinkStats, "backlog">;
  #cursor: number;
  #running = false;
  #again = false;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #current: Promise<void> = Promise.resolve();

  constructor(sink: AlertSink, readonly store: ObservationStore, readonly log: Logger) {
    this.sink = sink;
    this.#cursor = store.alerts.cursor(sink.name);
    this.stats = { target: sink.target, delivered: 0, failures: 0, refused: 0, lastError: null };
  }

  get cursor(): number {
    return this.#cursor;
  }

  wake(): void {
    if (this.#closed) return;
    if (this.#running) this.#again = true;
    else if (this.#timer === undefined) this.#current = this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#current;
    await this.sink.close();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        if (!this.store.isOpen) return;
        const alerts = this.store.alerts.after(this.#cursor, READ_ALERTS);
        for (const record of alerts) {
          if (this.#closed) return;
          try {
            await this.sink.deliver(alertMessage(record));
            this.stats.delivered++;
            this.#failures = 0;
          } catch (error) {
            if (!(error instanceof SinkRefusal)) return this.#retryLater(error as Error);
            this.stats.refused++;
            this.stats.lastError = error.message;
            this.log.warn(`alert ${record.idempotencyKey} refused by the ${this.sink.name} sink (${this.sink.target}), skipped: ${error.message}`);
          }
          this.#cursor = record.id;
          if (this.store.isOpen) this.store.alerts.delivered(this.sink.name, record.id);
        }
        if (alerts.length === READ_ALERTS) this.#again = true;
      } while (this.#again && !this.#closed);
    } finally {
      this.#running = false;
    }
  }

  #retryLater(error: Error): void {
    this.#failures++;
    this.stats.failures++;
    this.stats.lastError = error.message;
    const delay = Math.min(ALERT_RETRY_MAX_MS, ALERT_RETRY_INITIAL_MS * 2 ** Math.min(this.#failures - 1, 20));
    if (this.#failures === 1 || this.#failures % 10 === 0) {
      this.log.warn(`alert sink ${this.sink.name} (${this.sink.target}) failed (attempt ${this.#failures}), retrying in ${delay} ms: ${error.message}`);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.wake();
    }, delay);
  }
}

export class AlertDispatch {
  readonly #store: ObservationStore;
  readonly #loops: SinkLoop[];

  constructor(store: ObservationStore, sinks: readonly AlertSink[], logger: Logger) {
    this.#store = store;
    this.#loops = sinks.map((sink) => new SinkLoop(sink, store, logger));
  }

  /** New alerts were committed. */
  wake(): void {
    for (const loop of this.#loops) loop.wake();
    this.#prune();
  }

  /** Starts sending what is waiting (after a restart). */
  start(): void {
    this.wake();
  }

  stats(): Record<string, SinkStats> {
    const latest = this.#store.isOpen ? this.#store.alerts.latestId() : 0;
    return Object.fromEntries(this.#loops.map((loop) => [loop.sink.name, { ...loop.stats, backlog: Math.max(0, latest - loop.cursor) }]));
  }

  async close(): Promise<void> {
    await Promise.all(this.#loops.map((loop) => loop.close()));
  }

  #prune(): void {
    if (!this.#store.isOpen) return;
    const through = this.#loops.length === 0 ? this.#store.alerts.latestId() : Math.min(...this.#loops.map((loop) => loop.cursor));
    this.#store.alerts.prune(through, ALERTS_KEPT);
  }
}
