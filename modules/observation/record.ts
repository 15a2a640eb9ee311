/*
 * The observation record: the one definition that the device, the gateway and
 * the cloud all import. Its bytes are specified in modules/SPEC.md.
 *
 * On the wire it is a packed CBOR array rather than a map, because integer
 * positions cost one byte where key strings cost five to ten, and a device
 * sending once a second for years pays for every byte in flash and air time.
 * Values are decimal fractions (mantissa, exponent) so that 21.37 °C travels
 * as an exact small integer instead of an 9-byte float64.
 */
import { Encoder, decode } from "cbor-x";

/** Version of the record layout; the first element of every record. */
export const RECORD_VERSION = 1;

/** Longest sensor id accepted, in UTF-16 code units (ids are ASCII in practice). */
export const MAX_SENSOR_ID_LENGTH = 64;

/** Most readings one record may carry (a BME280 gives three). */
export const MAX_READINGS = 8;

/** Largest encoded record the gateway accepts; a real one is under 60 bytes. */
export const MAX_RECORD_BYTES = 256;

export interface QuantityInfo {
  readonly code: number;
  readonly name: Quantity;
  /** SenML unit symbol (RFC 8428) of the value. */
  readonly unit: string;
  /** Decimal exponent the device encodes with: the resolution worth sending. */
  readonly exponent: number;
}

export type Quantity = "temperature" | "humidity" | "pressure";

export const QUANTITIES: Readonly<Record<Quantity, QuantityInfo>> = Object.freeze({
  temperature: Object.freeze({ code: 1, name: "temperature", unit: "Cel", exponent: -2 }),
  humidity: Object.freeze({ code: 2, name: "humidity", unit: "%RH", exponent: -2 }),
  pressure: Object.freeze({ code: 3, name: "pressure", unit: "Pa", exponent: 0 }),
}) as Readonly<Record<Quantity, QuantityInfo>>;

const QUANTITY_BY_CODE: readonly (QuantityInfo | undefined)[] = [
  undefined,
  QUANTITIES.temperature,
  QUANTITIES.humidity,
  QUANTITIES.pressure,
];

export interface Reading {
  quantity: Quantity;
  /** In the quantity's unit (°C, %RH, Pa). */
  value: number;
}

export interface Observation {
  sensorId: string;
  /** Per-sensor sequence number, 1-based, strictly increasing across reboots. */
  seq: number;
  /** Boot counter of the device: with uptimeMs it orders records without a clock. */
  boot: number;
  /** Monotonic milliseconds since this boot. */
  uptimeMs: number;
  /** Wall time in ms since the Unix epoch, only when the device has a synced clock. */
  time?: number;
  readings: Reading[];
}

/** A record that is not a valid observation; `field` names what was wrong. */
export class ObservationError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`observation ${field}: ${message}`);
    this.name = "ObservationError";
    this.field = field;
  }
}

// Positions in the packed array.
const AT_VERSION = 0;
const AT_SENSOR = 1;
const AT_SEQ = 2;
const AT_BOOT = 3;
const AT_UPTIME = 4;
const AT_TIME = 5;
const AT_READINGS = 6;
const RECORD_LENGTH = 7;

// One encoder reused for every record: cbor-x keeps its output buffer between
// calls, so encoding allocates only the returned view.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false, variableMapSize: true });

/**
 * A scratch array reused across calls, so the device's sampling loop builds
 * no new arrays per observation beyond the readings it already holds.
 */
const packed: unknown[] = new Array(RECORD_LENGTH);
const packedReadings: number[][] = [];

function toMantissa(reading: Reading, info: QuantityInfo): number {
  const scaled = info.exponent < 0 ? reading.value * 10 ** -info.exponent : reading.value / 10 ** info.exponent;
  return Math.round(scaled);
}

/** Encodes an observation as its packed CBOR record. */
export function encodeObservation(obs: Observation): Uint8Array {
  const count = obs.readings.length;
  if (count > MAX_READINGS) throw new ObservationError("readings", `more than ${MAX_READINGS}`);
  while (packedReadings.length < count) packedReadings.push([0, 0, 0]);
  packedReadings.length = count;
  for (let i = 0; i < count; i++) {
    const reading = obs.readings[i];
    const info = QUANTITIES[reading.quantity];
    if (!info) throw new ObservationError(`readings[${i}].quantity`, `unknown quantity "${reading.quantity}"`);
    if (!Number.isFinite(reading.value)) throw new ObservationError(`readings[${i}].value`, "not a finite number");
    const slot = packedReadings[i];
    slot[0] = info.code;
    slot[1] = toMantissa(reading, info);
    slot[2] = info.exponent;
  }
  packed[AT_VERSION] = RECORD_VERSION;
  packed[AT_SENSOR] = obs.sensorId;
  packed[AT_SEQ] = obs.seq;
  packed[AT_BOOT] = obs.boot;
  packed[AT_UPTIME] = obs.uptimeMs;
  packed[AT_TIME] = obs.time === undefined ? null : obs.time;
  packed[AT_READINGS] = packedReadings;
  return encoder.encode(packed);
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function decodeReading(raw: unknown, i: number): Reading {
  const field = `readings[${i}]`;
  if (!Array.isArray(raw) || raw.length !== 3) throw new ObservationError(field, "must be [quantity, mantissa, exponent]");
  const [code, mantissa, exponent] = raw as unknown[];
  const info = typeof code === "number" ? QUANTITY_BY_CODE[code] : undefined;
  if (!info) throw new ObservationError(`${field}.quantity`, `unknown quantity code ${String(code)}`);
  if (typeof mantissa !== "number" || !Number.isSafeInteger(mantissa)) throw new ObservationError(`${field}.mantissa`, "must be an integer");
  if (typeof exponent !== "number" || !Number.isInteger(exponent) || exponent < -9 || exponent > 9) {
    throw new ObservationError(`${field}.exponent`, "must be an integer from -9 to 9");
  }
  // Dividing by a power of ten rounds correctly where multiplying by 10^-n does not.
  const value = exponent < 0 ? mantissa / 10 ** -exponent : mantissa * 10 ** exponent;
  return { quantity: info.name, value };
}

/**
 * Decodes and validates one record. Throws ObservationError naming the first
 * bad field; never returns a partly valid observation.
 */
export function decodeObservation(bytes: Uint8Array): Observation {
  if (bytes.byteLength === 0) throw new ObservationError("record", "empty payload");
  if (bytes.byteLength > MAX_RECORD_BYTES) throw new ObservationError("record", `${bytes.byteLength} bytes, limit is ${MAX_RECORD_BYTES}`);
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (e) {
    throw new ObservationError("record", `not CBOR (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) throw new ObservationError("record", "must be a CBOR array");
  if (raw[AT_VERSION] !== RECORD_VERSION) throw new ObservationError("version", `unsupported version ${String(raw[AT_VERSION])}`);
  if (raw.length !== RECORD_LENGTH) throw new ObservationError("record", `must have ${RECORD_LENGTH} elements, has ${raw.length}`);
  const sensorId = raw[AT_SENSOR];
  if (typeof sensorId !== "string" || sensorId.length === 0 || sensorId.length > MAX_SENSOR_ID_LENGTH) {
    throw new ObservationError("sensorId", `must be a string of 1 to ${MAX_SENSOR_ID_LENGTH} characters`);
  }
  if (!/^[A-Za-z0-9._:-]+$/.test(sensorId)) throw new ObservationError("sensorId", "may hold only letters, digits and . _ : -");
  const seq = raw[AT_SEQ];
  if (!isUint(seq) || seq === 0) throw new ObservationError("seq", "must be a positive integer");
  const boot = raw[AT_BOOT];
  if (!isUint(boot)) throw new ObservationError("boot", "must be a non-negative integer");
  const uptimeMs = raw[AT_UPTIME];
  if (!isUint(uptimeMs)) throw new ObservationError("uptimeMs", "must be a non-negative integer");
  const time = raw[AT_TIME];
  if (time !== null && !isUint(time)) throw new ObservationError("time", "must be null or milliseconds since the epoch");
  const rawReadings = raw[AT_READINGS];
  if (!Array.isArray(rawReadings) || rawReadings.length === 0 || rawReadings.length > MAX_READINGS) {
    throw new ObservationError("readings", `must be an array of 1 to ${MAX_READINGS} readings`);
  }
  const readings = rawReadings.map(decodeReading);
  const obs: Observation = { sensorId, seq, boot, uptimeMs, readings };
  if (time !== null) obs.time = time;
  return obs;
}
