/*
 * The uplink records a device sends: defined once, imported by the device,
 * the gateway and the cloud. Their bytes are specified in modules/SPEC.md.
 *
 * Each record is a packed CBOR array whose first element says what it is.
 * Integer positions cost one byte where map keys cost five to ten, and a
 * device sending once a second for years pays for every byte in flash and
 * air time. Values are integers with a decimal exponent fixed by the
 * quantity (21.37 °C travels as 2137), exact and small.
 *
 * Time does not depend on a set clock: every observation carries the boot
 * counter and monotonic milliseconds since boot, and separate clock-anchor
 * records tie a boot to wall time (from the device's synced clock, or from
 * the gateway's when the device has none). The gateway maps each
 * observation to wall time with its boot's anchor.
 */
import { CborWriter } from "./cbor-writer.js";
import { standardQuantity } from "./quantities.js";

export const RecordKind = Object.freeze({ OBSERVATION: 1, CLOCK: 2, BATCH: 3 });

/** Longest sensor id, in characters; ids are ASCII, so also in bytes. */
export const MAX_SENSOR_ID_LENGTH = 64;
export const SENSOR_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/** Most readings one observation may carry (a BME280 gives three). */
export const MAX_READINGS = 8;
/** The largest record; it must fit one FlashLog frame (255 bytes) and one MQTT in-flight slot. */
export const MAX_RECORD_BYTES = 255;
/** Before this (September 2020) a device clock has not been set since boot. */
export const CLOCK_SYNCED_AFTER_MS = 1_600_000_000_000;

export { QUANTITIES, QUANTITY_BY_CODE, type QuantityInfo } from "./quantities.js";
/** A standard quantity's name (see quantities.ts) or one an app declared. */
export type Quantity = string;

export interface Reading {
  quantity: Quantity;
  /** In the quantity's unit (°C, %RH, Pa). */
  value: number;
  /**
   * Only for a quantity an app declared: its SenML unit. A standard
   * quantity's unit is the table's, so its readings leave this out.
   */
  unit?: string;
  /** Only for a declared quantity, and only where it is written: its decimal exponent on the wire. */
  exponent?: number;
}

export interface Observation {
  sensorId: string;
  /** Per-sensor sequence number, from 1, strictly increasing across reboots. */
  seq: number;
  /** The device's boot counter. */
  boot: number;
  /** Monotonic milliseconds since that boot. */
  uptimeMs: number;
  readings: Reading[];
}

/** Ties a boot's monotonic clock to wall time. */
export interface ClockAnchor {
  sensorId: string;
  boot: number;
  uptimeMs: number;
  /** The device's synced wall clock at `uptimeMs`, or null: then the receiver's clock stands in. */
  wallMs: number | null;
}

/** An observation as the gateway and the cloud hold it: with wall time once an anchor gave it. */
export interface TimedObservation extends Observation {
  /** Wall time in ms since the Unix epoch; absent while no anchor is known for its boot. */
  time?: number;
  /** Whose clock `time` comes from. */
  timeSource?: "device" | "gateway";
}

/** A value that cannot be a record; `field` names what was wrong. */
export class ObservationError extends Error {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "ObservationError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(`record ${field}: ${message}`);
    this.field = field;
  }
}

/** The decimal exponent a reading is written with: its standard quantity's, or the one its declaration carries. */
export function exponentOf(reading: Reading, index: number): number {
  const info = standardQuantity(reading.quantity);
  if (info) {
    if (reading.unit !== undefined && reading.unit !== info.unit) {
      throw new ObservationError(`readings[${index}].unit`, `${reading.quantity} is in "${info.unit}", not "${reading.unit}"`);
    }
    return info.exponent;
  }
  if (reading.unit === undefined || reading.exponent === undefined) {
    throw new ObservationError(`readings[${index}].quantity`, `unknown quantity "${String(reading.quantity)}" (a declared one needs its unit and exponent)`);
  }
  return reading.exponent;
}

export function mantissaOf(reading: Reading, index: number): number {
  const exponent = exponentOf(reading, index);
  if (!Number.isFinite(reading.value)) throw new ObservationError(`readings[${index}].value`, "not a finite number");
  return Math.round(exponent < 0 ? reading.value * 10 ** -exponent : reading.value / 10 ** exponent);
}

/** A reading's quantity as a record carries it: the standard code, or [name, unit, exponent] for a declared one. */
export function writeQuantity(writer: CborWriter, reading: Reading, index: number): CborWriter {
  const info = standardQuantity(reading.quantity);
  if (info) return writer.integer(info.code);
  return writer.arrayHeader(3).text(reading.quantity).text(reading.unit as string).integer(exponentOf(reading, index));
}

/**
 * Writes an observation record into `writer` (reset first) and returns a view
 * of its bytes; `count` readings of `obs.readings` (a device reuses one array).
 */
export function writeObservation(writer: CborWriter, obs: Observation, count = obs.readings.length): Uint8Array {
  if (count === 0 || count > MAX_READINGS) throw new ObservationError("readings", `must hold 1 to ${MAX_READINGS} readings`);
  writer.reset().arrayHeader(5 + 2 * count).integer(RecordKind.OBSERVATION).text(obs.sensorId).integer(obs.seq).integer(obs.boot).integer(obs.uptimeMs);
  for (let i = 0; i < count; i++) {
    const reading = obs.readings[i];
    const mantissa = mantissaOf(reading, i);
    writeQuantity(writer, reading, i).integer(mantissa);
  }
  return writer.view();
}

/** Writes a clock-anchor record into `writer` (reset first) and returns a view of its bytes. */
export function writeClockAnchor(writer: CborWriter, anchor: ClockAnchor): Uint8Array {
  writer.reset().arrayHeader(5).integer(RecordKind.CLOCK).text(anchor.sensorId).integer(anchor.boot).integer(anchor.uptimeMs);
  return (anchor.wallMs === null ? writer.null() : writer.integer(anchor.wallMs)).view();
}

/** A fresh copy of an observation's record: for hosts and tests, not the device's sampling loop. */
export function encodeObservation(obs: Observation): Uint8Array {
  return writeObservation(new CborWriter(MAX_RECORD_BYTES), obs).slice();
}

export function encodeClockAnchor(anchor: ClockAnchor): Uint8Array {
  return writeClockAnchor(new CborWriter(MAX_RECORD_BYTES), anchor).slice();
}
