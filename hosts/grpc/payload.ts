/*
 * google.protobuf.Any payloads: packing our messages and unpacking the
 * ones we know. An unknown type_url or undecodable bytes is a PayloadError
 * naming it, for the caller to count; never a crash.
 */
import { messageType } from "./protocol.js";
import type { AnyMessage } from "./messages.js";

export const TYPE_URL_PREFIX = "type.googleapis.com/";

export const REGISTERED = "iot.registration.Registered";
export const TEMPERATURE_READ = "iot.temperature.TemperatureRead";
export const OBSERVATION_RECORDED = "xsedge.observation.v1.ObservationRecorded";

export class PayloadError extends Error {
  constructor(message: string, readonly typeUrl: string | null) {
    super(message);
    this.name = "PayloadError";
  }
}

export function typeUrlOf(fullName: string): string {
  return TYPE_URL_PREFIX + fullName;
}

/** Encodes `value` (snake_case fields, as in the .proto) as an Any of `fullName`. */
export function packAny(fullName: string, value: Record<string, unknown>): AnyMessage {
  const type = messageType(fullName);
  const problem = type.verify(value);
  if (problem !== null) throw new PayloadError(`cannot encode ${fullName}: ${problem}`, typeUrlOf(fullName));
  return { type_url: typeUrlOf(fullName), value: type.encode(type.fromObject(value)).finish() };
}

/** "<host>/<message full name>", short enough to quote. */
const TYPE_URL_PATTERN = /^[A-Za-z0-9.-]*\/[A-Za-z_][A-Za-z0-9_.]{0,127}$/;

/**
 * A type_url as messages quote it: only when it has a type URL's form. Any
 * other string is bytes a broken frame put there (another field, a
 * registration's secret perhaps), which log lines must not carry.
 */
function shownTypeUrl(url: string): string {
  return TYPE_URL_PATTERN.test(url) ? `"${url}"` : `(a type_url of ${url.length} characters that is not "<host>/<type>")`;
}

/**
 * Decodes an Any whose type is one of `expected` (full names). Returns the
 * type's full name and the message as a plain object (snake_case, int64 as
 * strings, defaults filled in).
 */
export function unpackAny<T = Record<string, unknown>>(any: AnyMessage | null | undefined, expected: readonly string[]): { type: string; message: T } {
  if (any === null || any === undefined) throw new PayloadError("event has no payload", null);
  const url = any.type_url;
  // The part after the last "/" is the message's full name, whatever the host part.
  const name = url.slice(url.lastIndexOf("/") + 1);
  if (!expected.includes(name)) {
    throw new PayloadError(`unknown payload type ${shownTypeUrl(url)} (expected ${expected.map(typeUrlOf).join(" or ")})`, url);
  }
  const type = messageType(name);
  try {
    const decoded = type.decode(any.value);
    return { type: name, message: type.toObject(decoded, { longs: String, enums: String, defaults: true }) as T };
  } catch (error) {
    throw new PayloadError(`malformed ${name} payload (${any.value.length} bytes): ${(error as Error).message}`, url);
  }
}
