/*
 * Messages to a device and its reports back (modules/SPEC.md, "Downlink"):
 * the gateway changes a device's settings and sends it commands on
 * `xsedge/v1/<sensorId>/down`; the device answers each with an outcome on
 * `xsedge/v1/<sensorId>/report`. Both are packed CBOR arrays, like the
 * uplink records. This file is the device's side (read a message, write a
 * report) and the shared vocabulary; hosts encode and decode with cbor-x in
 * host-codec.ts.
 */
import { CborReader, CborReadError, type CborValue } from "./cbor-reader.js";
import type { CborWriter } from "../observation/cbor-writer.js";

export const downlinkTopic = (sensorId: string): string => `xsedge/v1/${sensorId}/down`;
export const reportTopic = (sensorId: string): string => `xsedge/v1/${sensorId}/report`;

export const DownlinkKind = Object.freeze({ SET: 1, COMMAND: 2 });
/**
 * Report kinds start at 16 so that a device's flash log can hold reports
 * beside its uplink records (kinds 1 to 3) and tell them apart by their first
 * element: reports travel through the log, so they survive a reboot.
 */
export const ReportKind = Object.freeze({ OUTCOME: 16 });
export const FIRST_REPORT_KIND = 16;

export const OutcomeStatus = Object.freeze({
  /** Validated and applied (settings persisted, the command run). */
  APPLIED: 0,
  /** Not applied; the detail says why (an unknown key, a value out of range, a command that failed). */
  REFUSED: 1,
  /** Not applied: the device has applied this request or a newer one already (a re-delivery). */
  STALE: 2,
});
export type OutcomeStatusCode = (typeof OutcomeStatus)[keyof typeof OutcomeStatus];

/** The largest message to a device: a handful of settings; it must fit the MQTT client's incoming limit (1 KB). */
export const MAX_DOWNLINK_BYTES = 512;
/** Settings in one message: they are applied together or not at all. */
export const MAX_SETTINGS_PER_MESSAGE = 8;
/** A text value; longer settings do not belong on a microcontroller. */
export const MAX_TEXT_BYTES = 64;
/** The detail of a report: one reason, as a person reads it. */
export const MAX_DETAIL_BYTES = 96;
/** Setting and command names: Moddable's preference keys hold 15 characters. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,14}$/;
/** Request ids are positive integers below 2^53 (the gateway's are milliseconds since the epoch, or more). */
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;

export type SettingValue = number | string | boolean;

export type Downlink =
  | { kind: "set"; requestId: number; settings: Array<[string, SettingValue]> }
  | { kind: "command"; requestId: number; name: string; arg: SettingValue | undefined };

export interface Outcome {
  requestId: number;
  status: OutcomeStatusCode;
  detail: string | null;
}

/** A message the device cannot read; `requestId` when the message got that far, so it can still be answered. */
export class DownlinkError extends RangeError {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "DownlinkError";
  readonly requestId: number | undefined;
  constructor(message: string, requestId?: number) {
    super(`downlink: ${message}`);
    this.requestId = requestId;
  }
}

/** Bytes `text` takes as UTF-8. */
export function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
}

/** Why `value` cannot be a setting value or a command's argument, or undefined. */
export function valueProblem(value: unknown): string | undefined {
  if (typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "a number must be finite";
  if (typeof value === "string") return utf8Bytes(value) <= MAX_TEXT_BYTES ? undefined : `text longer than ${MAX_TEXT_BYTES} bytes`;
  return "must be a number, text, true or false";
}

function nameAt(raw: CborValue[], index: number, what: string, requestId: number): string {
  const name = raw[index];
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new DownlinkError(`${what} must be 1 to 15 letters, digits or _ starting with a letter, got ${JSON.stringify(name)}`, requestId);
  }
  return name;
}

function valueAt(raw: CborValue[], index: number, what: string, requestId: number): SettingValue {
  const value = raw[index];
  const problem = valueProblem(value);
  if (problem) throw new DownlinkError(`${what}: ${problem}`, requestId);
  return value as SettingValue;
}

/** Reads one message to the device; DownlinkError says what was wrong (with its request id when known). */
export function readDownlink(bytes: Uint8Array): Downlink {
  if (bytes.length === 0 || bytes.length > MAX_DOWNLINK_BYTES) throw new DownlinkError(`${bytes.length} bytes, must be 1 to ${MAX_DOWNLINK_BYTES}`);
  let raw: CborValue;
  try {
    raw = new CborReader(bytes).readAll();
  } catch (e) {
    if (e instanceof CborReadError) throw new DownlinkError(e.message);
    throw e;
  }
  if (!Array.isArray(raw) || raw.length < 3) throw new DownlinkError("must be an array [kind, requestId, ...]");
  const requestId = raw[1];
  if (typeof requestId !== "number" || !Number.isSafeInteger(requestId) || requestId < 1) throw new DownlinkError("requestId must be a positive integer");
  if (raw[0] === DownlinkKind.SET) {
    const count = (raw.length - 2) / 2;
    if (!Number.isInteger(count) || count < 1 || count > MAX_SETTINGS_PER_MESSAGE) {
      throw new DownlinkError(`settings must be 1 to ${MAX_SETTINGS_PER_MESSAGE} (key, value) pairs`, requestId);
    }
    const settings: Array<[string, SettingValue]> = [];
    for (let at = 2; at < raw.length; at += 2) {
      const key = nameAt(raw, at, "a setting's key", requestId);
      if (settings.some(([k]) => k === key)) throw new DownlinkError(`setting ${key} is given twice`, requestId);
      settings.push([key, valueAt(raw, at + 1, key, requestId)]);
    }
    return { kind: "set", requestId, settings };
  }
  if (raw[0] === DownlinkKind.COMMAND) {
    if (raw.length > 4) throw new DownlinkError("a command is [2, requestId, name] or [2, requestId, name, argument]", requestId);
    const name = nameAt(raw, 2, "a command's name", requestId);
    return { kind: "command", requestId, name, arg: raw.length === 4 ? valueAt(raw, 3, `${name}'s argument`, requestId) : undefined };
  }
  throw new DownlinkError(`unknown message kind ${JSON.stringify(raw[0])}`, requestId);
}

/** Cuts a detail to MAX_DETAIL_BYTES, so a long exception message cannot overflow a report. */
export function clipDetail(detail: string): string {
  if (utf8Bytes(detail) <= MAX_DETAIL_BYTES) return detail;
  let cut = detail.slice(0, MAX_DETAIL_BYTES - 3);
  while (utf8Bytes(cut) > MAX_DETAIL_BYTES - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/** Writes an outcome report into `writer` (reset first) and returns a view of its bytes. */
export function writeOutcome(writer: CborWriter, outcome: Outcome): Uint8Array {
  writer.reset().arrayHeader(4).integer(ReportKind.OUTCOME).integer(outcome.requestId).integer(outcome.status);
  return (outcome.detail === null ? writer.null() : writer.text(clipDetail(outcome.detail))).view();
}
