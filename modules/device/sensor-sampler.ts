/*
 * One declared sensor: an ECMA-419 driver (the Sensor Class Pattern: `new
 * Driver({ sensor: { io, ...pins, address }, onError })`, `configure()`,
 * `sample()`, `close()`), opened and sampled by the runtime. A part that is
 * missing at boot is looked for again at each sample time rather than
 * stopping the device; a sample that throws (a NACK a driver did not catch)
 * is counted and left out. Faults reach the app's trace, at most one line
 * per FAULT_TRACE_EVERY, so a dead part does not flood the log.
 */
import { mapSample, type SamplePlan } from "./sample-map.js";
import type { Reading } from "../observation/record.js";

/** The options an ECMA-419 sensor driver is constructed with. */
export interface DriverOptions {
  /** The bus: its I/O class and what that class is constructed with (pins, address, speed). */
  sensor: { io: unknown; [key: string]: unknown };
  /** Runtime data faults (a bad CRC, no result yet); the affected field is left out of the sample. */
  onError?: (message: string) => void;
  [key: string]: unknown;
}

export interface SensorDriver<S = unknown> {
  sample(): S;
  configure?(options: Record<string, unknown>): void;
  close?(): void;
}

/**
 * An ECMA-419 sensor driver class. Its options parameter is typed `never`
 * so that any driver's constructor fits, whatever its own options type
 * says; the runtime constructs it with DriverOptions.
 */
export type SensorDriverClass<S = unknown> = new (options: never) => SensorDriver<S>;

/** What the runtime gives a driver besides onError: the bus, and the app's own driver options. */
export interface OpenOptions {
  sensor: DriverOptions["sensor"];
  [key: string]: unknown;
}

/** One trace line per this many faults of a sensor after the first. */
export const FAULT_TRACE_EVERY = 60;

export interface SamplerStats {
  /** Samples that gave at least one reading. */
  samples: number;
  /** Faults: failed opens, samples that threw, and the driver's onError reports. */
  faults: number;
  opened: boolean;
}

export class SensorSampler<S = unknown> {
  readonly name: string;
  readonly stats: SamplerStats = { samples: 0, faults: 0, opened: false };
  readonly #driverClass: SensorDriverClass<S>;
  readonly #options: DriverOptions;
  readonly #configure: Record<string, unknown> | undefined;
  readonly #plan: SamplePlan;
  readonly #trace: (line: string) => void;
  #driver: SensorDriver<S> | undefined;
  #last: S | undefined;

  constructor(name: string, driverClass: SensorDriverClass<S>, options: OpenOptions, configure: Record<string, unknown> | undefined, plan: SamplePlan, trace: (line: string) => void) {
    this.name = name;
    this.#driverClass = driverClass;
    this.#trace = trace;
    this.#options = { ...options, onError: (message: string) => this.#fault(`reported: ${message}`) };
    this.#configure = configure;
    this.#plan = plan;
  }

  /** The driver, once open: for an app that calls its own methods (a part's alarm threshold). */
  get driver(): SensorDriver<S> | undefined {
    return this.#driver;
  }

  /** The driver's latest sample as it returned it. */
  get last(): S | undefined {
    return this.#last;
  }

  /** Opens the driver if it is not open; false when the part could not be opened (counted, traced). */
  open(): boolean {
    if (this.#driver) return true;
    try {
      const driver = new (this.#driverClass as unknown as new (options: DriverOptions) => SensorDriver<S>)(this.#options);
      if (this.#configure) driver.configure?.(this.#configure);
      this.#driver = driver;
      this.stats.opened = true;
      return true;
    } catch (e) {
      this.#fault(`could not open: ${(e as Error)?.message ?? String(e)}`);
      return false;
    }
  }

  /**
   * Samples the part and fills `readings` by the plan; returns how many
   * readings, or -1 when there is no sample (not open, or the driver threw).
   */
  sample(readings: Reading[]): number {
    if (!this.open()) return -1;
    let sample: S;
    try {
      sample = (this.#driver as SensorDriver<S>).sample();
    } catch (e) {
      this.#fault(`sample failed: ${(e as Error)?.message ?? String(e)}`);
      return -1;
    }
    this.#last = sample;
    const count = mapSample(this.#plan, sample, readings);
    if (count > 0) this.stats.samples++;
    return count;
  }

  close(): void {
    try {
      this.#driver?.close?.();
    } catch {
      // closing is only to release the bus
    }
    this.#driver = undefined;
    this.stats.opened = false;
  }

  #fault(message: string): void {
    if (this.stats.faults++ % FAULT_TRACE_EVERY === 0) {
      this.#trace(`sensor ${this.name} ${message} (${this.stats.faults} faults so far)\n`);
    }
  }
}
