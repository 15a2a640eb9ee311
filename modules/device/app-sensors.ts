/*
 * The app's sensors and its own records, between the public API and the
 * recorder: each sensor on its own repeating timer (its period a number or a
 * setting it follows), each sample mapped to readings and recorded on the
 * sensor's stream, and the app's records on a stream of their own. A
 * quantity belongs to the first stream that records it: a second sensor
 * giving the same quantity would make two series indistinguishable in the
 * data, so its reading is left out, counted and traced with how to rename
 * it. Declarations happen in the app's setup; start() begins sampling.
 */
import { declareQuantity, standardQuantity, type QuantityInfo } from "../observation/quantities.js";
import type { Reading } from "../observation/record.js";
import type { Setting, SettingsRegistry } from "./app-settings.js";
import type { Readings, Sensor, SensorDeclaration } from "./app-types.js";
import type { Recorder, RecorderTimers, Stream } from "./recorder.js";
import { planFor, readingSlots } from "./sample-map.js";
import { SensorSampler, type SensorDriverClass } from "./sensor-sampler.js";

/** Sensors one device declares: each holds a stream's batch buffers, a timer and its reading slots. */
export const MAX_SENSORS = 8;
/** Quantities an app may declare: each definition travels in every record that carries it. */
export const MAX_DECLARED_QUANTITIES = 16;
const SENSOR_NAME = /^[a-z][a-z0-9_]{0,14}$/;

export interface AppSensorsOptions {
  recorder: Recorder;
  registry: SettingsRegistry;
  timers: RecorderTimers & { repeat(callback: () => void, ms: number): unknown };
  trace: (line: string) => void;
  /** The host provider's I/O classes (`device.io`). */
  io: Record<string, unknown>;
  /** The host provider's default I2C pins and speed. */
  bus: Record<string, unknown>;
  defaultPeriod: Setting<number>;
  traceSamples: () => boolean;
  logged: () => number;
}

interface Declared {
  sampler: SensorSampler<unknown>;
  declaration: SensorDeclaration<unknown>;
  stream: Stream | undefined;
  readings: Reading[];
  period: () => number;
  timer: unknown;
}

export class AppSensors {
  readonly #o: AppSensorsOptions;
  readonly #sensors: Declared[] = [];
  readonly #quantities = new Map<string, QuantityInfo>();
  /** Which stream records each quantity: the first to record it. */
  readonly #owners = new Map<string, Stream>();
  readonly #appReadings = readingSlots();
  #appStream: Stream | undefined;
  #collisions = 0;
  #sealed = false;
  #started = false;

  constructor(options: AppSensorsOptions) {
    this.#o = options;
  }

  declare<S>(name: string, driver: SensorDriverClass<S>, declaration: SensorDeclaration<S> = {}): Sensor<S> {
    if (this.#sealed) throw new RangeError(`sensor ${name}: sensors are declared in the app's setup`);
    if (!SENSOR_NAME.test(name)) throw new RangeError(`sensor ${JSON.stringify(name)}: names are 1 to 15 of a-z 0-9 _ starting with a letter`);
    if (this.#sensors.some((s) => s.sampler.name === name)) throw new RangeError(`sensor ${name} is declared twice`);
    if (this.#sensors.length === MAX_SENSORS) throw new RangeError(`a device has at most ${MAX_SENSORS} sensors`);
    if (typeof driver !== "function") throw new TypeError(`sensor ${name}: the driver must be a class (an ECMA-419 sensor driver)`);
    const io = typeof declaration.io === "function" ? declaration.io : this.#o.io[declaration.io ?? "I2C"];
    if (typeof io !== "function") throw new RangeError(`sensor ${name}: the board's host provider has no io.${String(declaration.io ?? "I2C")}`);
    const period = this.#period(name, declaration.periodMs);
    const plan = planFor(declaration.quantities, (q) => this.#resolve(q));
    for (const target of Object.values(declaration.quantities ?? {})) if (target !== null && typeof target === "object") this.#adopt(target);
    const sensor = {
      ...this.#o.bus,
      ...(declaration.address === undefined ? {} : { address: declaration.address }),
      ...declaration.bus,
      io,
    };
    const sampler = new SensorSampler<unknown>(name, driver as SensorDriverClass<unknown>, { ...declaration.driver, sensor }, declaration.configure, plan, this.#o.trace);
    const declared: Declared = {
      sampler, declaration: declaration as SensorDeclaration<unknown>, readings: readingSlots(), period, timer: undefined,
      stream: declaration.record === false ? undefined : this.#o.recorder.stream(),
    };
    this.#sensors.push(declared);
    sampler.open();
    return {
      name,
      get driver() { return sampler.driver as never; },
      get last() { return sampler.last as S | undefined; },
      get stats() { return sampler.stats; },
    };
  }

  quantity(name: string, unit: string, exponent: number): QuantityInfo {
    const known = this.#quantities.get(name);
    if (known && known.unit === unit && known.exponent === exponent) return known;
    return this.#adopt(declareQuantity(name, unit, exponent));
  }

  /** An app's own observation. */
  record(readings: Readings, now: boolean): number {
    if (!this.#appStream) this.#appStream = this.#o.recorder.stream();
    const slots = this.#appReadings;
    let count = 0;
    for (const name in readings) {
      const raw = readings[name];
      if (raw === undefined) continue;
      const value = typeof raw === "boolean" ? (raw ? 1 : 0) : raw;
      if (count === slots.length) throw new RangeError(`record: at most ${slots.length} readings`);
      const info = this.#resolve(name);
      const slot = slots[count++];
      slot.quantity = info.name;
      slot.value = value;
      slot.unit = info.code === 0 ? info.unit : undefined;
      slot.exponent = info.code === 0 ? info.exponent : undefined;
    }
    count = this.#owned(this.#appStream, slots, count, "the app's records");
    if (count === 0) throw new RangeError("record: no readings to record");
    return this.#o.recorder.record(this.#appStream, slots, count, now);
  }

  /** The end of the app's setup: no more sensors. */
  seal(): void {
    this.#sealed = true;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const sensor of this.#sensors) this.#schedule(sensor);
  }

  describe(): string {
    return this.#sensors.map((s) => `${s.sampler.name} every ${s.period()} ms`).join(", ") || "no sensors";
  }

  counts(): { samples: number; faults: number; collisions: number } {
    let samples = 0;
    let faults = 0;
    for (const s of this.#sensors) {
      samples += s.sampler.stats.samples;
      faults += s.sampler.stats.faults;
    }
    return { samples, faults, collisions: this.#collisions };
  }

  #period(name: string, periodMs: SensorDeclaration<unknown>["periodMs"]): () => number {
    if (periodMs === undefined) {
      this.#o.registry.listen(this.#o.defaultPeriod.name, () => this.#reschedule(name));
      const setting = this.#o.defaultPeriod;
      return () => setting.value;
    }
    if (typeof periodMs === "number") {
      if (!Number.isInteger(periodMs) || periodMs < 10) throw new RangeError(`sensor ${name}: periodMs must be an integer of at least 10`);
      return () => periodMs;
    }
    if (typeof periodMs.value !== "number" || periodMs.value < 10) throw new RangeError(`sensor ${name}: its period setting must be a number of at least 10 ms`);
    this.#o.registry.listen(periodMs.name, () => this.#reschedule(name));
    return () => periodMs.value;
  }

  #reschedule(name: string): void {
    const sensor = this.#sensors.find((s) => s.sampler.name === name);
    if (!sensor || !this.#started) return;
    this.#o.timers.clear(sensor.timer);
    this.#schedule(sensor);
  }

  #schedule(sensor: Declared): void {
    sensor.timer = this.#o.timers.repeat(() => this.#sample(sensor), sensor.period());
  }

  #sample(sensor: Declared): void {
    const readings = sensor.readings;
    let count = sensor.sampler.sample(readings);
    if (count < 0) return;
    const onSample = sensor.declaration.onSample;
    if (onSample) {
      let keep: boolean | void;
      try {
        keep = onSample(sensor.sampler.last);
      } catch (e) {
        this.#o.trace(`sensor ${sensor.sampler.name} onSample threw: ${(e as Error)?.message ?? String(e)}\n`);
        return;
      }
      if (keep === false) return;
    }
    if (!sensor.stream || count === 0) return;
    count = this.#owned(sensor.stream, readings, count, `sensor ${sensor.sampler.name}`);
    if (count === 0) return;
    let seq: number;
    try {
      seq = this.#o.recorder.record(sensor.stream, readings, count);
    } catch (e) {
      this.#o.trace(`sensor ${sensor.sampler.name}: not recorded: ${(e as Error)?.message ?? String(e)}\n`);
      return;
    }
    if (this.#o.traceSamples()) this.#o.trace(`observation seq=${seq} ${readings[0].quantity}=${readings[0].value.toFixed(2)} logged=${this.#o.logged()}\n`);
  }

  /** Drops readings whose quantity another stream records (compacting the slots); returns how many remain. */
  #owned(stream: Stream, readings: Reading[], count: number, who: string): number {
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const name = readings[i].quantity;
      const owner = this.#owners.get(name);
      if (owner === undefined) this.#owners.set(name, stream);
      else if (owner !== stream) {
        if (this.#collisions++ === 0 || this.#collisions % 1000 === 0) {
          this.#o.trace(`${who}: ${name} is already recorded by another sensor; map it to a quantity of its own (quantities: { ${name}: app.quantity(...) })\n`);
        }
        continue;
      }
      if (kept !== i) {
        const from = readings[i];
        const to = readings[kept];
        to.quantity = from.quantity;
        to.value = from.value;
        to.unit = from.unit;
        to.exponent = from.exponent;
      }
      kept++;
    }
    return kept;
  }

  #resolve(name: string): QuantityInfo {
    const info = standardQuantity(name) ?? this.#quantities.get(name);
    if (!info) throw new RangeError(`unknown quantity "${name}": a standard one (modules/SPEC.md) or one declared with app.quantity`);
    return info;
  }

  #adopt(info: QuantityInfo): QuantityInfo {
    const known = this.#quantities.get(info.name);
    if (known === info) return info;
    if (known) throw new RangeError(`quantity ${info.name} is declared twice, differently`);
    if (info.code !== 0) return info;
    if (this.#quantities.size === MAX_DECLARED_QUANTITIES) throw new RangeError(`an app declares at most ${MAX_DECLARED_QUANTITIES} quantities`);
    this.#quantities.set(info.name, info);
    return info;
  }
}
