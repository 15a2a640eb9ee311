/*
 * Decoding and validating uplink records, for the gateway and the cloud. It
 * uses cbor-x, a full and maintained CBOR implementation, so what devices
 * write is checked by an independent decoder; devices never import this.
 */
import { decode } from "cbor-x";
import {
  MAX_READINGS, MAX_RECORD_BYTES, ObservationError, QUANTITY_BY_CODE, RecordKind, SENSOR_ID_PATTERN,
  type ClockAnchor, type Observation, type Reading,
} from "./record.js";
import { LAST_QUANTITY_CODE, declaredQuantityProblem } from "./quantities.js";
import { cborSubsetProblem } from "./cbor-subset.js";
import { shown } from "./shown-value.js";

export type UplinkRecord =
  | { kind: "observation"; observation: Observation }
  | { kind: "batch"; observations: Observation[] }
  | { kind: "clock"; anchor: ClockAnchor };

/** Observations in a batch are at most what 255 bytes can hold; this only bounds a hostile decoder input. */
const MAX_BATCH_OBSERVATIONS = 128;

/**
 * cbor-x gives 64-bit integers (wall-clock milliseconds) as BigInt; they are
 * numbers here when exact, and refused otherwise. (Its int64AsNumber option
 * is not used: it turns large negative integers into -1.)
 */
function exact(value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function sensorIdAt(raw: unknown[]): string {
  const sensorId = raw[1];
  if (typeof sensorId !== "string" || !SENSOR_ID_PATTERN.test(sensorId)) {
    throw new ObservationError("sensorId", "must be 1 to 64 letters, digits or . _ : -");
  }
  return sensorId;
}

function uintAt(raw: unknown[], index: number, field: string): number {
  const value = exact(raw[index]);
  if (!isUint(value)) throw new ObservationError(field, "must be a non-negative integer");
  return value;
}

/** A quantity as a record names it: a standard one by code, or a declared one by its definition. */
interface WireQuantity {
  name: string;
  exponent: number;
  /** Only for a declared quantity. */
  unit?: string;
}

/**
 * A code this table lacks is refused, never guessed at: a newer device may
 * use a quantity this receiver does not know yet, and a wrong label is worse
 * than a refusal the operator can see.
 */
function quantityAt(raw: unknown, field: string): WireQuantity {
  const code = exact(raw);
  if (typeof code === "number") {
    const info = Number.isInteger(code) ? QUANTITY_BY_CODE[code] : undefined;
    if (!info) throw new ObservationError(field, `unknown quantity code ${code} (this receiver knows codes 1 to ${LAST_QUANTITY_CODE}; a newer device needs a newer gateway)`);
    return { name: info.name, exponent: info.exponent };
  }
  if (Array.isArray(raw) && raw.length === 3) {
    const [name, unit, exponent] = raw;
    const problem = declaredQuantityProblem(name, unit, exponent);
    if (problem) throw new ObservationError(field, `declared quantity: ${problem}`);
    return { name: name as string, unit: unit as string, exponent: exponent as number };
  }
  throw new ObservationError(field, `must be a quantity code or [name, unit, exponent], got ${shown(raw)}`);
}

/** One name, one meaning: a quantity twice in an observation could only be read one way by accident. */
function refuseRepeats(names: string[], field: string): void {
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new ObservationError(field, `quantity "${repeated}" appears more than once`);
}

function valueOf(mantissa: unknown, quantity: WireQuantity, field: string): Reading {
  const n = exact(mantissa);
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw new ObservationError(field, "must be an integer");
  // Dividing by a power of ten rounds correctly where multiplying by 10^-n does not.
  const value = quantity.exponent < 0 ? n / 10 ** -quantity.exponent : n * 10 ** quantity.exponent;
  return quantity.unit === undefined ? { quantity: quantity.name, value } : { quantity: quantity.name, value, unit: quantity.unit };
}

/** [3, sensorId, boot, [quantity…], seq, uptimeMs, value…, Δseq, ΔuptimeMs, value…, …] */
function batch(raw: unknown[]): Observation[] {
  const sensorId = sensorIdAt(raw);
  const boot = uintAt(raw, 2, "boot");
  const codes = raw[3];
  if (!Array.isArray(codes) || codes.length === 0 || codes.length > MAX_READINGS) {
    throw new ObservationError("quantities", `must be an array of 1 to ${MAX_READINGS} quantity codes`);
  }
  const quantities = codes.map((code, i) => quantityAt(code, `quantities[${i}]`));
  refuseRepeats(quantities.map((q) => q.name), "quantities");
  const stride = 2 + codes.length;
  const rest = raw.length - 4;
  if (rest < stride || rest % stride !== 0 || rest / stride > MAX_BATCH_OBSERVATIONS) {
    throw new ObservationError("observations", `must be whole groups of ${stride} elements (seq, uptime, ${codes.length} values)`);
  }
  const out: Observation[] = [];
  let seq = 0;
  let uptimeMs = 0;
  for (let at = 4, i = 0; at < raw.length; at += stride, i++) {
    const dSeq = uintAt(raw, at, `observations[${i}].seq`);
    const dUptime = uintAt(raw, at + 1, `observations[${i}].uptimeMs`);
    if (i > 0 && dSeq === 0) throw new ObservationError(`observations[${i}].seq`, "must increase within a batch");
    seq = i === 0 ? dSeq : seq + dSeq;
    uptimeMs = i === 0 ? dUptime : uptimeMs + dUptime;
    if (seq === 0) throw new ObservationError(`observations[${i}].seq`, "must be a positive integer");
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(uptimeMs)) throw new ObservationError(`observations[${i}]`, "sequence or uptime overflows");
    const readings = quantities.map((quantity, k) => valueOf(raw[at + 2 + k], quantity, `observations[${i}].readings[${k}].value`));
    out.push({ sensorId, seq, boot, uptimeMs, readings });
  }
  return out;
}

function readings(raw: unknown[]): Reading[] {
  const pairs = raw.length - 5;
  if (pairs < 2 || pairs % 2 !== 0 || pairs / 2 > MAX_READINGS) {
    throw new ObservationError("readings", `must be 1 to ${MAX_READINGS} (quantity, value) pairs`);
  }
  const out: Reading[] = [];
  for (let at = 5, i = 0; at < raw.length; at += 2, i++) {
    out.push(valueOf(raw[at + 1], quantityAt(raw[at], `readings[${i}].quantity`), `readings[${i}].value`));
  }
  refuseRepeats(out.map((r) => r.quantity), "readings");
  return out;
}

/** Decodes one record of either kind; throws ObservationError naming the first bad field. */
export function decodeUplinkRecord(bytes: Uint8Array): UplinkRecord {
  if (bytes.byteLength === 0) throw new ObservationError("record", "empty payload");
  if (bytes.byteLength > MAX_RECORD_BYTES) throw new ObservationError("record", `${bytes.byteLength} bytes, limit is ${MAX_RECORD_BYTES}`);
  // Before cbor-x: bytes outside the spec's CBOR can hang its native string scanner (cbor-subset.ts).
  const problem = cborSubsetProblem(bytes);
  if (problem) throw new ObservationError("record", `not CBOR as records are written (${problem})`);
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (e) {
    throw new ObservationError("record", `not CBOR (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) throw new ObservationError("record", "must be a CBOR array");
  if (raw[0] === RecordKind.OBSERVATION) {
    if (raw.length < 7) throw new ObservationError("record", `an observation has at least 7 elements, this has ${raw.length}`);
    const observation: Observation = {
      sensorId: sensorIdAt(raw),
      seq: uintAt(raw, 2, "seq"),
      boot: uintAt(raw, 3, "boot"),
      uptimeMs: uintAt(raw, 4, "uptimeMs"),
      readings: readings(raw),
    };
    if (observation.seq === 0) throw new ObservationError("seq", "must be a positive integer");
    return { kind: "observation", observation };
  }
  if (raw[0] === RecordKind.BATCH) {
    if (raw.length < 7) throw new ObservationError("record", `a batch has at least 7 elements, this has ${raw.length}`);
    return { kind: "batch", observations: batch(raw) };
  }
  if (raw[0] === RecordKind.CLOCK) {
    if (raw.length !== 5) throw new ObservationError("record", `a clock anchor has 5 elements, this has ${raw.length}`);
    const wallMs = exact(raw[4]);
    if (wallMs !== null && !isUint(wallMs)) throw new ObservationError("wallMs", "must be null or milliseconds since the epoch");
    return { kind: "clock", anchor: { sensorId: sensorIdAt(raw), boot: uintAt(raw, 2, "boot"), uptimeMs: uintAt(raw, 3, "uptimeMs"), wallMs } };
  }
  throw new ObservationError("kind", `unknown record kind ${shown(raw[0])}`);
}

/** Decodes a record that must be an observation. */
export function decodeObservation(bytes: Uint8Array): Observation {
  const record = decodeUplinkRecord(bytes);
  if (record.kind !== "observation") throw new ObservationError("kind", `expected an observation, got a ${record.kind} record`);
  return record.observation;
}
