/*
 * Validation of what the cloud's HTTP API receives. Each failure names the
 * field (with its index in a batch), so a caller can tell what to fix.
 */
import { observationFromJson } from "../../modules/observation/observation-json.js";
import { ObservationError, SENSOR_ID_PATTERN, type TimedObservation } from "../../modules/observation/record.js";
import { SECRET_DIGEST_PREFIX } from "../../hosts/auth/secret-digest.js";

export { SENSOR_ID_PATTERN };
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

export interface IncomingObservation extends TimedObservation {
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
  // The registration streams carry "sha256:<hex>" digests; a secret of that form would be read as one.
  if (secret.startsWith(SECRET_DIGEST_PREFIX)) throw new ValidationError("secret", `must not start with "${SECRET_DIGEST_PREFIX}" (the form of a digest)`);
  return { sensorId, secret };
}

/**
 * The observation's JSON form is checked by the shared validator
 * (modules/observation/observation-json.ts), which holds the record's rules
 * (ranges, resolution, time and its source); only the gateway's receive
 * time is the cloud's own to check.
 */
function parseObservation(value: unknown, at: string): IncomingObservation {
  if (!isObject(value)) throw new ValidationError(at, "must be an object");
  let observation: TimedObservation;
  try {
    observation = observationFromJson(value);
  } catch (e) {
    if (e instanceof ObservationError) throw new ValidationError(`${at}.${e.field}`, e.message.replace(/^record \S+: /, ""));
    throw e;
  }
  const { receivedAt } = value;
  if (receivedAt === undefined || receivedAt === null) return observation;
  if (!(typeof receivedAt === "number" && Number.isSafeInteger(receivedAt) && receivedAt >= 0)) {
    throw new ValidationError(`${at}.receivedAt`, "must be milliseconds since the epoch if present");
  }
  return { ...observation, receivedAt };
}

/** Validates a whole batch; throws on the first bad observation, so nothing of a bad batch is stored. */
export function parseObservationBatch(body: unknown): IncomingObservation[] {
  if (!isObject(body) || !Array.isArray(body.observations)) throw new ValidationError("observations", "body must be {observations: [...]}");
  const list = body.observations;
  if (list.length > MAX_BATCH) throw new ValidationError("observations", `at most ${MAX_BATCH} per request, got ${list.length}`);
  return list.map((value, i) => parseObservation(value, `observations[${i}]`));
}
