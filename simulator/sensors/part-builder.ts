/*
 * A device's parts from their description: for each, the register-level
 * model of the part (TMP117, SHT3x, BME280) fed by its signals, behind its
 * faults. The fleet worker calls this inside XS (the rollup bundle hands it
 * to simulator/xs-fleet as its part builder); the host calls it for the
 * single-device engine. A part modelled on the host (`host: true`, a user's
 * own model) is listed with its address only.
 *
 * Pure, XS built-ins only.
 */
import type { Quantity } from "../../modules/observation/record.js";
import type { I2cTarget } from "../engine/i2c-bus.js";
import { BME280_ADDRESS, Bme280Model } from "./bme280-model.js";
import { SHT3X_ADDRESS, Sht3xModel } from "./sht3x-model.js";
import { TMP117_ADDRESS, Tmp117Model } from "./tmp117-model.js";
import { FaultyPart, type FaultSpec } from "./part-faults.js";
import { signal, type SignalSpec } from "./signal.js";

export type ModelledPart = "tmp117" | "sht3x" | "bme280";
export const MODELLED_PARTS: readonly ModelledPart[] = ["tmp117", "sht3x", "bme280"];

export const PART_ADDRESSES: Readonly<Record<ModelledPart, number>> = Object.freeze({ tmp117: TMP117_ADDRESS, sht3x: SHT3X_ADDRESS, bme280: BME280_ADDRESS });
export const PART_QUANTITIES: Readonly<Record<ModelledPart, readonly Quantity[]>> = Object.freeze({
  tmp117: ["temperature"],
  sht3x: ["temperature", "humidity"],
  bme280: ["temperature", "humidity", "pressure"],
});
/** Parts whose results carry a checksum a bad-CRC fault can break. */
export const PARTS_WITH_CRC: ReadonlySet<string> = new Set(["sht3x"]);

export type PartSignals = Partial<Record<Quantity, SignalSpec>>;

export interface PartSpec {
  /** One of MODELLED_PARTS, or any name for a part modelled on the host. */
  part: string;
  /** 7-bit I2C address; the part's default when left out. */
  address?: number;
  /** Modelled on the host (a user's I2cTarget): transfers cross to it. */
  host?: boolean;
  /** Clock time (ms) that signals count from; 0 (the epoch) makes a daily sine follow the time of day. */
  origin?: number;
  signals?: PartSignals;
  faults?: FaultSpec;
}

/** A change to a running part: faults are replaced, signals merged. */
export interface PartChange {
  address?: number;
  faults?: FaultSpec;
  signals?: PartSignals;
}

export interface BuiltPart {
  readonly address: number;
  readonly part: string;
  readonly target?: I2cTarget;
  values(): Record<string, number>;
  update(change: unknown): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const QUANTITY_STREAM: Readonly<Record<Quantity, number>> = { temperature: 1, humidity: 3, pressure: 5 };

/** What a part measures when nothing says otherwise: a daily cycle around a per-device mean, as `npm start` shows. */
export function defaultSignals(seed: number): Record<Quantity, SignalSpec> {
  const mean = 18 + ((seed * 7) % 9);
  return {
    temperature: { kind: "sine", mean, amplitude: 3, periodMs: DAY_MS, noise: 0.05 },
    // Relative humidity falls as the air warms over the day.
    humidity: { kind: "sine", mean: Math.min(95, Math.max(5, 55 - 1.5 * (mean - 20))), amplitude: 4.5, periodMs: DAY_MS, phaseMs: DAY_MS / 2, noise: 0.1 },
    pressure: { kind: "sine", mean: 101_325, amplitude: 300, periodMs: 3 * DAY_MS },
  };
}

/** A part's signals as its model reads them: the last values kept, frozen while the part is stuck. */
class SignalSource {
  readonly last: Record<string, number> = {};
  readonly #functions = new Map<Quantity, (t: number) => number>();
  readonly #held = new Map<Quantity, number>();
  readonly #now: () => number;
  readonly #origin: number;
  readonly #seed: number;
  readonly #stream: number;
  #stuck = false;

  constructor(now: () => number, origin: number, seed: number, stream: number) {
    this.#now = now;
    this.#origin = origin;
    this.#seed = seed;
    this.#stream = stream;
  }

  set(quantity: Quantity, spec: SignalSpec): void {
    this.#functions.set(quantity, signal(spec, this.#seed, this.#stream + QUANTITY_STREAM[quantity]));
  }

  /** Stuck: each quantity holds the value it last gave (or, never asked yet, the first it gives). */
  set stuck(on: boolean) {
    if (on && !this.#stuck) for (const [quantity, value] of Object.entries(this.last)) this.#held.set(quantity as Quantity, value);
    this.#stuck = on;
    if (!on) this.#held.clear();
  }

  value(quantity: Quantity): number {
    const held = this.#held.get(quantity);
    if (held !== undefined) return held;
    const f = this.#functions.get(quantity);
    const value = f ? f(this.#now() - this.#origin) : NaN;
    if (this.#stuck) this.#held.set(quantity, value);
    this.last[quantity] = value;
    return value;
  }
}

function model(part: ModelledPart, source: SignalSource, now: () => number): { model: I2cTarget; corruptNext?: () => void } {
  const temperature = () => source.value("temperature");
  const humidity = () => Math.min(100, Math.max(0, source.value("humidity")));
  if (part === "sht3x") {
    const sht = new Sht3xModel({ temperature, humidity, now });
    let word = 0;
    // Alternate which word's checksum breaks, so a driver is seen to check both.
    return { model: sht, corruptNext: () => (sht.corruptNextCrc = word++ % 2 === 0 ? "temperature" : "humidity") };
  }
  if (part === "bme280") return { model: new Bme280Model({ temperature, humidity, pressure: () => source.value("pressure"), now }) };
  return { model: new Tmp117Model({ temperature }) };
}

function buildOne(spec: PartSpec, index: number, context: { now(): number; seed: number }): BuiltPart {
  const known = (MODELLED_PARTS as readonly string[]).includes(spec.part);
  if (!known && !spec.host) throw new RangeError(`part ${spec.part}: no model of it in the simulator (a part of your own is modelled on the host: host: true)`);
  const address = spec.address ?? (known ? PART_ADDRESSES[spec.part as ModelledPart] : -1);
  if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new RangeError(`part ${spec.part}: invalid I2C address ${String(spec.address)}`);
  if (spec.host) return { address, part: spec.part, values: () => ({}), update: () => {} };
  const part = spec.part as ModelledPart;
  const stream = (address << 8) | (index << 4);
  const source = new SignalSource(context.now, spec.origin ?? 0, context.seed, stream);
  const defaults = defaultSignals(context.seed);
  for (const quantity of PART_QUANTITIES[part]) source.set(quantity, spec.signals?.[quantity] ?? defaults[quantity]);
  const { model: target, corruptNext } = model(part, source, context.now);
  const faulty = new FaultyPart(target, context.seed, stream, corruptNext);
  const apply = (faults: FaultSpec | undefined) => {
    faulty.faults = { ...(faults ?? {}) };
    source.stuck = faults?.stuck === true;
  };
  apply(spec.faults);
  return {
    address,
    part,
    target: faulty,
    values: () => ({ ...source.last }),
    update(change: unknown) {
      const { faults, signals } = change as PartChange;
      if (faults !== undefined) apply(faults);
      if (signals) for (const quantity of PART_QUANTITIES[part]) if (signals[quantity]) source.set(quantity, signals[quantity]!);
    },
  };
}

/** The parts a device's description lists, built on its clock and seed. */
export function buildParts(specs: unknown, context: { now(): number; seed: number }): BuiltPart[] {
  if (!Array.isArray(specs)) throw new TypeError("parts must be a list");
  return (specs as PartSpec[]).map((spec, index) => buildOne(spec, index, context));
}
