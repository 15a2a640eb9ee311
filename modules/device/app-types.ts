/*
 * The types of the public device API (index.ts): what an app declares and
 * what it gets back. Kept apart from the runtime so that an app's type check
 * sees the contract, not the machinery.
 */
import type { QuantityInfo } from "../observation/quantities.js";
import type { Reading } from "../observation/record.js";
import type { BooleanSpec, IntegerSpec, NumberSpec, Setting, SettingValue, TextSpec } from "./app-settings.js";
import type { CommandHandler, DownlinkStats } from "./downlink-handler.js";
import type { QuantityMapping } from "./sample-map.js";
import type { SamplerStats, SensorDriver, SensorDriverClass } from "./sensor-sampler.js";

export type { BooleanSpec, CommandHandler, IntegerSpec, NumberSpec, QuantityInfo, QuantityMapping, Reading, SamplerStats, Setting, SettingValue, SensorDriver, SensorDriverClass, TextSpec };

/** Readings an app records itself, by quantity name: a standard one, or one it declared with app.quantity. */
export type Readings = Readonly<Record<string, number | boolean | undefined>>;

/** An ECMA-419 I/O class, as a host provider's `device.io` holds them. */
export type IoClass = new (options: never) => unknown;

export interface SensorDeclaration<S> {
  /**
   * How often to sample: milliseconds, or a setting (the sensor follows it
   * when a downlink changes it). Absent: the device's samplePeriodMs.
   */
  periodMs?: number | Setting<number>;
  /** The bus: "I2C" (default) or "SMBus" from the board's host provider, or an I/O class of the app's choosing. */
  io?: "I2C" | "SMBus" | IoClass;
  /** The part's 7-bit I2C address; the driver's default when absent. */
  address?: number;
  /** More of the options the I/O class is constructed with (pins, hz, port), over the board's defaults. */
  bus?: Readonly<Record<string, unknown>>;
  /** More of the options the driver is constructed with, beside `sensor` and `onError`. */
  driver?: Readonly<Record<string, unknown>>;
  /** Passed to the driver's configure() once it is open. */
  configure?: Readonly<Record<string, unknown>>;
  /**
   * Sample properties mapped to other quantities, or left out (null): a
   * property's name maps it wherever it appears, "group.property" only in
   * that group. Everything else follows the ECMA-419 sensor classes.
   */
  quantities?: QuantityMapping;
  /**
   * Called with each sample as the driver returned it (the ECMA-419 sample
   * object); return false to keep this one out of the log (the app records
   * what it computes instead).
   */
  onSample?: (sample: S) => boolean | void;
  /** False: sampled for onSample only, never logged (its quantities stay free for the app's records). Default true. */
  record?: boolean;
}

/** A declared sensor, as the app sees it. */
export interface Sensor<S> {
  readonly name: string;
  /** The driver once it is open, for calls of the app's own (a part's alarm threshold). */
  readonly driver: SensorDriver<S> | undefined;
  /** The latest sample as the driver returned it. */
  readonly last: S | undefined;
  readonly stats: Readonly<SamplerStats>;
}

export interface DeviceStats {
  boot: number;
  connected: boolean;
  /** Records in flash not yet acknowledged by the gateway. */
  waiting: number;
  logged: number;
  /** Records the log refused (full, with logPolicy refuse-newest). */
  refused: number;
  /** Unacknowledged records the log dropped to make room (logPolicy drop-oldest). */
  dropped: number;
  published: number;
  released: number;
  samples: number;
  /** Sensor faults: failed opens, samples that threw, driver errors. */
  faults: number;
  /** Readings left out because another stream already records their quantity. */
  collisions: number;
  downlinks: DownlinkStats;
}

export interface DeviceApp {
  /** The device's sensor id: its MQTT client id and every record's sensorId. */
  readonly sensorId: string;
  /** This boot's number (from 1). */
  readonly boot: number;
  /** Declares a sensor: its ECMA-419 driver class, sampled on its own schedule. At most 8. */
  sensor<S>(name: string, driver: SensorDriverClass<S>, options?: SensorDeclaration<S>): Sensor<S>;
  /** Declares a setting the gateway may change (see modules/README.md); its value is read and checked now. */
  setting(name: string, spec: IntegerSpec | NumberSpec): Setting<number>;
  setting(name: string, spec: TextSpec): Setting<string>;
  setting(name: string, spec: BooleanSpec): Setting<boolean>;
  /** Declares a command the gateway may send (flush, reboot and identify are the runtime's; identify may be replaced). */
  command(name: string, handler: CommandHandler): void;
  /** Declares a quantity of the app's own: a name, its SenML unit and the decimal exponent worth sending. */
  quantity(name: string, unit: string, exponent: number): QuantityInfo;
  /** Records an observation now (an event, a computed value); `now`: its batch goes out at once. Returns its seq. */
  record(readings: Readings, options?: { now?: boolean }): number;
  /** Writes every open batch to flash and wakes the uplink. */
  flush(): void;
  stats(): DeviceStats;
}
