/*
 * The cloud in virtual time: it takes the gateway model's relayed batches
 * after a latency, acknowledges them unless it is out, and keeps one entry
 * per (sensor, seq) as the reference cloud does, counting the copies it got
 * beyond the first, so a scenario can check "every observation reached the
 * cloud exactly once as the cloud sees it".
 */
import type { VirtualDriver } from "../fleet/virtual-driver.js";

export interface CloudEntry {
  sensorId: string;
  seq: number;
  boot: number;
  /** Virtual time it first arrived. */
  firstAt: number;
  /** Copies received, the first included. */
  copies: number;
  /** Its readings as relayed: quantity → value. */
  readings: Record<string, number>;
}

export interface RelayedObservation {
  sensorId: string;
  seq: number;
  boot: number;
  readings: Record<string, number>;
}

export interface CloudModelOptions {
  /** One way, ms. */
  latencyMs: number;
  /** Every arrival of a batch (for the run's trace). */
  onReceived?: (at: number, batch: readonly RelayedObservation[], added: number) => void;
}

export interface CloudStats {
  batches: number;
  refusedBatches: number;
  observations: number;
  duplicates: number;
}

export class CloudModel {
  readonly stats: CloudStats = { batches: 0, refusedBatches: 0, observations: 0, duplicates: 0 };
  readonly #entries = new Map<string, CloudEntry>();
  readonly #driver: VirtualDriver;
  readonly #options: CloudModelOptions;
  #up = true;

  constructor(driver: VirtualDriver, options: CloudModelOptions) {
    this.#driver = driver;
    this.#options = options;
  }

  get up(): boolean {
    return this.#up;
  }

  /** An outage begins (false) or ends (true). */
  setUp(up: boolean): void {
    this.#up = up;
  }

  /**
   * A batch the gateway relays now; `done` hears the outcome when the answer
   * would reach the gateway (an outage answers nothing: the gateway's request
   * times out, and `done` hears false after `timeoutMs`).
   */
  send(batch: readonly RelayedObservation[], timeoutMs: number, done: (acked: boolean) => void): void {
    const arrives = this.#driver.now() + this.#options.latencyMs;
    if (!this.#up) {
      this.stats.refusedBatches++;
      this.#driver.schedule(this.#driver.now() + timeoutMs, () => done(false));
      return;
    }
    this.#driver.schedule(arrives, () => {
      // An outage that began while the batch was on its way: it is lost.
      if (!this.#up) {
        this.stats.refusedBatches++;
        this.#driver.schedule(this.#driver.now() + timeoutMs - this.#options.latencyMs, () => done(false));
        return;
      }
      this.stats.batches++;
      let added = 0;
      for (const o of batch) {
        const key = `${o.sensorId}\u0000${o.seq}`;
        const entry = this.#entries.get(key);
        if (entry) {
          entry.copies++;
          this.stats.duplicates++;
        } else {
          this.#entries.set(key, { ...o, firstAt: this.#driver.now(), copies: 1 });
          this.stats.observations++;
          added++;
        }
      }
      this.#options.onReceived?.(this.#driver.now(), batch, added);
      this.#driver.schedule(this.#driver.now() + this.#options.latencyMs, () => done(true));
    });
  }

  entry(sensorId: string, seq: number): CloudEntry | undefined {
    return this.#entries.get(`${sensorId}\u0000${seq}`);
  }

  entries(): IterableIterator<CloudEntry> {
    return this.#entries.values();
  }
}
