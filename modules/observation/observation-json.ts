/*
 * The JSON form of a timed observation: what the gateway relays to the cloud
 * and what the cloud's API returns. Validated here directly, with the same
 * rules as the CBOR record (id pattern, ranges, the quantity's resolution),
 * so both hosts accept exactly what a device may send. Hosts only: it needs
 * no CBOR and no Node API, but the device never imports it.
 */
import {
  MAX_READINGS, mantissaOf, ObservationError, SENSOR_ID_PATTERN,
  type Quantity, type Reading, type TimedObservation,
} from "./record.js";
import { declaredQuantityProblem, QUANTITY_NAME_PATTERN, standardQuantity } from "./quantities.js";

export type TimeSource = NonNullable<TimedObservation["timeSource"]>;
export const TIME_SOURCES: readonly TimeSource[] = Object.freeze(["device", "gateway"]);

/** A reading as JSON shows it: with its SenML unit, so a reader needs no table. */
export interface ReadingJson {
  quantity: Quantity;
  unit: string;
  value: number;
}

/** An observation as JSON shows it; `time` and `timeSource` are null while no clock anchor gave a time. */
export interface ObservationJson {
  sensorId: string;
  seq: number;
  boot: number;
  uptimeMs: number;
  time: number | null;
  timeSource: TimeSource | null;
  readings: ReadingJson[];
}

/** A reading's unit: a declared quantity's own, or the table's for a standard one. */
export function unitOf(reading: Reading): string {
  return reading.unit ?? standardQuantity(reading.quantity)?.unit ?? "";
}

export function readingToJson(reading: Reading): ReadingJson {
  return { quantity: reading.quantity, unit: unitOf(reading), value: reading.value };
}

export function observationToJson(obs: TimedObservation): ObservationJson {
  return {
    sensorId: obs.sensorId,
    seq: obs.seq,
    boot: obs.boot,
    uptimeMs: obs.uptimeMs,
    time: obs.time ?? null,
    timeSource: obs.timeSource ?? null,
    readings: obs.readings.map(readingToJson),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function uint(value: unknown, field: string, min = 0): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new ObservationError(field, min === 0 ? "must be a non-negative integer" : `must be an integer of at least ${min}`);
  }
  return value;
}

function parseReading(value: unknown, i: number): Reading {
  const field = `readings[${i}]`;
  if (!isObject(value)) throw new ObservationError(field, "must be an object {quantity, value}");
  const { quantity, unit, value: v } = value;
  if (typeof quantity !== "string" || !QUANTITY_NAME_PATTERN.test(quantity)) {
    throw new ObservationError(`${field}.quantity`, "must be a quantity name (a-z 0-9 _, starting with a letter)");
  }
  if (typeof v !== "number") throw new ObservationError(`${field}.value`, "must be a number");
  const info = standardQuantity(quantity);
  if (!info) {
    // A quantity the device declared: its unit says what the value is, so it must be there.
    if (unit === undefined) throw new ObservationError(`${field}.quantity`, `${quantity} is not a standard quantity, and a declared one needs its unit`);
    const problem = declaredQuantityProblem(quantity, unit, 0);
    if (problem) throw new ObservationError(`${field}.unit`, problem);
    if (!Number.isFinite(v)) throw new ObservationError(`${field}.value`, "must be a finite number");
    return { quantity, value: v, unit: unit as string };
  }
  // The unit is implied by the quantity; one that says otherwise means the sender misread the value.
  if (unit !== undefined && unit !== info.unit) throw new ObservationError(`${field}.unit`, `must be "${info.unit}" for ${quantity} if present`);
  // Rounded to the quantity's resolution, as the device's record would be; a value the
  // record could not carry (not finite, beyond a safe integer mantissa) is refused.
  const mantissa = mantissaOf({ quantity: info.name, value: v }, i);
  if (!Number.isSafeInteger(mantissa)) throw new ObservationError(`${field}.value`, "is out of range");
  return { quantity: info.name, value: info.exponent < 0 ? mantissa / 10 ** -info.exponent : mantissa * 10 ** info.exponent };
}

/**
 * Validates the JSON form of one observation (with or without units) and
 * returns it as a TimedObservation. Throws ObservationError naming the first
 * bad field; fields it does not know are ignored.
 */
export function observationFromJson(value: unknown): TimedObservation {
  if (!isObject(value)) throw new ObservationError("observation", "must be an object");
  const { sensorId, readings, time, timeSource } = value;
  if (typeof sensorId !== "string" || !SENSOR_ID_PATTERN.test(sensorId)) {
    throw new ObservationError("sensorId", "must be 1 to 64 letters, digits or . _ : -");
  }
  const obs: TimedObservation = {
    sensorId,
    seq: uint(value.seq, "seq", 1),
    boot: uint(value.boot, "boot"),
    uptimeMs: uint(value.uptimeMs, "uptimeMs"),
    readings: [],
  };
  if (!Array.isArray(readings) || readings.length === 0 || readings.length > MAX_READINGS) {
    throw new ObservationError("readings", `must be an array of 1 to ${MAX_READINGS} readings`);
  }
  obs.readings = readings.map(parseReading);
  const names = obs.readings.map((r) => r.quantity);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new ObservationError("readings", `quantity "${repeated}" appears more than once`);
  const timed = time !== undefined && time !== null;
  if (timed) obs.time = uint(time, "time");
  if (timeSource !== undefined && timeSource !== null) {
    if (!TIME_SOURCES.includes(timeSource as TimeSource)) throw new ObservationError("timeSource", `must be ${TIME_SOURCES.join(" or ")}`);
    if (!timed) throw new ObservationError("timeSource", "given without a time");
    obs.timeSource = timeSource as TimeSource;
  } else if (timed) {
    // A time of unknown origin cannot be weighed against others; the sender always knows it.
    throw new ObservationError("timeSource", `must be ${TIME_SOURCES.join(" or ")} when time is given`);
  }
  return obs;
}
