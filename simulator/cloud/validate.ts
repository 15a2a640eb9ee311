/*
 * Validation of what the cloud's HTTP API receives. Each failure names the
 * field (with its index in a batch), so a caller can tell what to fix.
 */
import { decodeObservation, encodeObservation, ObservationError, QUANTITIES, type Observation } from "../../modules/observation/record.js";

export const SENSOR_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const MIN_SECRET_LENGTH = 8;
export const MAX_SECRET_LENGTH = 128;

/** Most observations one POST may carry; the gateway sends 100. */
export const MAX_BATCH = 1000;

/** A request body that is not what the route expects; `field` is a path like "observations[2].seq". */
export class ValidationError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "ValidationError";
    this.field = field;
  }
}

export interface Registration {
  sensorId: string;
  secret: string;
}

export interface IncomingObservation extends Observation {
  /** The gateway's receive time, when it says. */
  receivedAt?: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseRegistration(body: unknown): Registration {
  if (!isObject(body)) throw new ValidationError("body", "must be a JSON object {sensorId, secret}");
  const { sensorId, secret } = body;
  if (typeof sensorId !== "string" || !SENSOR_ID_PATTERN.test(sensorId)) {
    throw new ValidationError("sensorId", "must be 1 to 64 characters of letters, digits and . _ : -");
  }
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
    throw new ValidationError("secret", `must be a string of ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters`);
  }
  return { sensorId, secret };
}

/**
 * Checks the JSON shape, then sends the observation through the record codec
 * so that the cloud accepts exactly what a device may send (same ranges,
 * same resolution) without a second copy of the rules.
 */
function parseObservation(value: unknown, at: string): IncomingObservation {
  if (!isObject(value)) throw new ValidationError(at, "must be an object");
  const { seq, boot, uptimeMs, time, readings, receivedAt } = value;
  // Ranges are the codec's to check; here only what would make encoding itself fail.
  for (const [name, v] of Object.entries({ seq, boot, uptimeMs })) {
    if (typeof v !== "number") throw new ValidationError(`${at}.${name}`, "must be a number");
  }
  if (time !== undefined && time !== null && typeof time !== "number") throw new ValidationError(`${at}.time`, "must be a number if present");
  if (receivedAt !== undefined && !(typeof receivedAt === "number" && Number.isSafeInteger(receivedAt) && receivedAt >= 0)) {
    throw new ValidationError(`${at}.receivedAt`, "must be milliseconds since the epoch if present");
  }
  if (!Array.isArray(readings)) throw new ValidationError(`${at}.readings`, "must be an array");
  readings.forEach((reading: unknown, i) => {
    const field = `${at}.readings[${i}]`;
    if (!isObject(reading)) throw new ValidationError(field, "must be an object {quantity, value}");
    if (typeof reading.quantity !== "string" || !Object.hasOwn(QUANTITIES, reading.quantity)) {
      throw new ValidationError(`${field}.quantity`, `must be one of ${Object.keys(QUANTITIES).join(", ")}`);
    }
    if (typeof reading.value !== "number") throw new ValidationError(`${field}.value`, "must be a number");
  });
  let observation: Observation;
  try {
    observation = decodeObservation(encodeObservation({ ...(value as unknown as Observation), time: (time ?? undefined) as number | undefined }));
  } catch (e) {
    if (e instanceof ObservationError) throw new ValidationError(`${at}.${e.field}`, e.message.replace(/^observation \S+: /, ""));
    throw new ValidationError(at, (e as Error).message);
  }
  return receivedAt === undefined ? observation : { ...observation, receivedAt: receivedAt as number };
}

/** Validates a whole batch; throws on the first bad observation, so nothing of a bad batch is stored. */
export function parseObservationBatch(body: unknown): IncomingObservation[] {
  if (!isObject(body) || !Array.isArray(body.observations)) throw new ValidationError("observations", "body must be {observations: [...]}");
  const list = body.observations;
  if (list.length > MAX_BATCH) throw new ValidationError("observations", `at most ${MAX_BATCH} per request, got ${list.length}`);
  return list.map((value, i) => parseObservation(value, `observations[${i}]`));
}
