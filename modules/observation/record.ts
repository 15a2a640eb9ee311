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

export type Quantity = "temperature" | "humidity" | "pressure";

export interface QuantityInfo {
  readonly code: number;
  readonly name: Quantity;
  /** SenML unit symbol (RFC 8428) of the value. */
  readonly unit: string;
  /** Decimal exponent of the mantissa on the wire: the resolution worth sending. */
  readonly exponent: number;
}

export const QUANTITIES: Readonly<Record<Quantity, QuantityInfo>> = Object.freeze({
  temperature: Object.freeze({ code: 1, name: "temperature", unit: "Cel", exponent: -2 }),
  humidity: Object.freeze({ code: 2, name: "humidity", unit: "%RH", exponent: -2 }),
  pressure: Object.freeze({ code: 3, name: "pressure", unit: "Pa", exponent: 0 }),
}) as Readonly<Record<Quantity, QuantityInfo>>;

export const QUANTITY_BY_CODE: readonly (QuantityInfo | undefined)[] = Object.freeze([
  undefined, QUANTITIES.temperature, QUANTITIES.humidity, QUANTITIES.pressure,
]);

export interface Reading {
  quantity: Quantity;
  /** In the quantity's unit (°C, %RH, Pa). */
  value: number;
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
  readonly field: string;
  constructor(field: string, message: string) {
    super(`record ${field}: ${message}`);
    this.name = "ObservationError";
    this.field = field;
  }
}

export function mantissaOf(reading: Reading, index: number): number {
  const info = QUANTITIES[reading.quantity];
  if (!info) throw new ObservationError(`readings[${index}].quantity`, `unknown quantity "${String(reading.quantity)}"`);
  if (!Number.isFinite(reading.value)) throw new ObservationError(`readings[${index}].value`, "not a finite number");
  return Math.round(info.exponent < 0 ? reading.value * 10 ** -info.exponent : reading.value / 10 ** info.exponent);
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
    writer.integer(QUANTITIES[reading.quantity].code).integer(mantissa);
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
