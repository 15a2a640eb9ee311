/*
 * The registration feed's decisions, free of I/O: what one event from the
 * cloud's registration stream means for the projection, and how long to wait
 * before reconnecting. feed.ts performs the effects.
 *
 * The stream's events (see simulator/cloud/server.ts): `id` = the sensor's
 * registration offset, `data` = {sensorId, secretDigest, registeredAt}, the
 * digest as "sha256:<hex>" (hosts/auth/secret-digest.ts); a cloud that sends
 * the secret itself, {sensorId, secret, registeredAt}, is understood too.
 */
import { SENSOR_ID_PATTERN } from "../../../modules/observation/record.js";
import type { SseEvent } from "./sse-parser.js";
import { parseSecretDigest } from "../../auth/secret-digest.js";

/** The cloud's bounds for a secret (and the device's settings): shorter is guessable, longer is not a secret but a mistake. */
export const MIN_SECRET_LENGTH = 8;
export const MAX_SECRET_LENGTH = 128;

/** First reconnect delay: a cloud restart is usually over within a second. */
export const REGISTRATION_RETRY_INITIAL_MS = 500;
/** Reconnect delay cap: a sensor registered during an outage is accepted within 10 s of the cloud's return. */
export const REGISTRATION_RETRY_MAX_MS = 10_000;

export interface Registration {
  /** The registration offset: the event id, the position the projection resumes after. */
  offset: number;
  sensorId: string;
  /**
   * The secret in the clear, or its digest "sha256:<hex>": the projection
   * keeps only the digest either way. Never log it.
   */
  secret: string;
  /** The cloud's clock when the sensor registered. */
  registeredAt: number;
}

export type FeedDecision =
  | { action: "apply"; registration: Registration }
  /** A bad event at a known offset: skip it, but move the stored offset past it so it cannot wedge the feed. */
  | { action: "skip"; offset: number; reason: string }
  /** At or before the stored offset: already applied (the cloud resumes after the offset, so this is unexpected but harmless). */
  | { action: "stale"; offset: number }
  /** Not an event the projection can place: no usable id, so there is no offset to move past. */
  | { action: "ignore"; reason: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Decides what to do with one event, given the offset the projection has
 * reached. Reasons name the field at fault, never the secret's value.
 */
export function decideRegistrationEvent(event: SseEvent, storedOffset: number): FeedDecision {
  if (event.type !== "message") return { action: "ignore", reason: `event type "${event.type.slice(0, 64)}" is not a registration` };
  const offset = event.id !== undefined && /^\d{1,15}$/.test(event.id) ? Number(event.id) : NaN;
  if (!(offset > 0)) return { action: "ignore", reason: `id must be a registration offset (a positive integer), got ${JSON.stringify(event.id?.slice(0, 64))}` };
  if (offset <= storedOffset) return { action: "stale", offset };
  let body: unknown;
  try {
    body = JSON.parse(event.data);
  } catch {
    return { action: "skip", offset, reason: "data is not JSON" };
  }
  if (!isObject(body)) return { action: "skip", offset, reason: "data must be a JSON object {sensorId, secretDigest, registeredAt}" };
  const { sensorId, secretDigest, registeredAt } = body;
  if (typeof sensorId !== "string" || !SENSOR_ID_PATTERN.test(sensorId)) {
    return { action: "skip", offset, reason: "sensorId must be 1 to 64 characters of letters, digits and . _ : -" };
  }
  const secret = secretDigest === undefined ? body.secret : secretDigest;
  if (secretDigest !== undefined && (typeof secretDigest !== "string" || parseSecretDigest(secretDigest) === undefined)) {
    return { action: "skip", offset, reason: `secretDigest of ${sensorId} must be "sha256:" and 64 lowercase hex digits` };
  }
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
    const got = typeof secret === "string" ? `${secret.length} characters` : secret === undefined ? "missing" : typeof secret;
    return { action: "skip", offset, reason: `secret of ${sensorId} must be a string of ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters, got ${got}` };
  }
  if (typeof registeredAt !== "number" || !Number.isSafeInteger(registeredAt) || registeredAt < 0) {
    return { action: "skip", offset, reason: `registeredAt of ${sensorId} must be milliseconds since the epoch` };
  }
  return { action: "apply", registration: { offset, sensorId, secret, registeredAt } };
}

/** Exponential backoff: initial × 2^(failures−1), capped; `failures` counts attempts since the last connection. */
export function registrationRetryDelay(consecutiveFailures: number, initialMs: number, maxMs: number): number {
  // 2^30 already exceeds any sane cap; stopping there avoids Infinity.
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, consecutiveFailures - 1), 30));
}
