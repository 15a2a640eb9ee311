/*
 * The hosts' side of messages to devices (the gateway, tests): encoding a
 * message and decoding a report, with cbor-x, so that what a device writes is
 * read by an implementation independent of its own. Devices never import this.
 */
import { decode, encode } from "cbor-x";
import {
  DownlinkKind, MAX_DETAIL_BYTES, MAX_DOWNLINK_BYTES, MAX_REQUEST_ID, MAX_SETTINGS_PER_MESSAGE, NAME_PATTERN, OutcomeStatus, ReportKind,
  utf8Bytes, valueProblem, type Downlink, type Outcome, type OutcomeStatusCode,
} from "./messages.js";
import { cborSubsetProblem } from "../observation/cbor-subset.js";
import { shown } from "../observation/shown-value.js";

/** A report the gateway cannot read; `field` names what was wrong. */
export class ReportError extends Error {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "ReportError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(`report ${field}: ${message}`);
    this.field = field;
  }
}

/** Reports are small: an outcome and its detail. */
export const MAX_REPORT_BYTES = 256;

const STATUSES = new Set<number>(Object.values(OutcomeStatus));

/** Why a message cannot be sent to a device, or undefined: checked before it is queued, so a device is never sent what it must refuse as unreadable. */
export function downlinkProblem(d: Downlink): string | undefined {
  if (!Number.isSafeInteger(d.requestId) || d.requestId < 1 || d.requestId > MAX_REQUEST_ID) return "requestId must be a positive integer";
  if (d.kind === "set") {
    if (d.settings.length < 1 || d.settings.length > MAX_SETTINGS_PER_MESSAGE) return `settings: 1 to ${MAX_SETTINGS_PER_MESSAGE} keys`;
    for (const [key, value] of d.settings) {
      if (!NAME_PATTERN.test(key)) return `setting ${JSON.stringify(key)}: keys are 1 to 15 letters, digits or _ starting with a letter`;
      const problem = valueProblem(value);
      if (problem) return `setting ${key}: ${problem}`;
    }
    if (new Set(d.settings.map(([key]) => key)).size !== d.settings.length) return "a setting is given twice";
  } else {
    if (!NAME_PATTERN.test(d.name)) return `command ${JSON.stringify(d.name)}: names are 1 to 15 letters, digits or _ starting with a letter`;
    if (d.arg !== undefined) {
      const problem = valueProblem(d.arg);
      if (problem) return `argument: ${problem}`;
    }
  }
  const bytes = encodeUnchecked(d).byteLength;
  return bytes > MAX_DOWNLINK_BYTES ? `${bytes} bytes encoded, limit ${MAX_DOWNLINK_BYTES}` : undefined;
}

/** cbor-x writes an integer beyond 32 bits as a float; as a BigInt it is the shortest integer, as the spec says. */
const wide = (value: unknown): unknown => (typeof value === "number" && Number.isInteger(value) && Math.abs(value) > 0xffffffff ? BigInt(value) : value);

function encodeUnchecked(d: Downlink): Uint8Array {
  const items: unknown[] = d.kind === "set"
    ? [DownlinkKind.SET, d.requestId, ...d.settings.flat()]
    : [DownlinkKind.COMMAND, d.requestId, d.name, ...(d.arg === undefined ? [] : [d.arg])];
  return new Uint8Array(encode(items.map(wide)));
}

/** The bytes of a message to a device; RangeError names what makes it unsendable. */
export function encodeDownlink(d: Downlink): Uint8Array {
  const problem = downlinkProblem(d);
  if (problem) throw new RangeError(`downlink: ${problem}`);
  return encodeUnchecked(d);
}

/** Reads a device's report; ReportError names the bad field. */
export function decodeReport(bytes: Uint8Array): Outcome {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_REPORT_BYTES) throw new ReportError("report", `${bytes.byteLength} bytes, must be 1 to ${MAX_REPORT_BYTES}`);
  // Before cbor-x: bytes outside the spec's CBOR can hang its native string scanner (cbor-subset.ts).
  const problem = cborSubsetProblem(bytes);
  if (problem) throw new ReportError("report", `not CBOR as reports are written (${problem})`);
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (e) {
    throw new ReportError("report", `not CBOR (${(e as Error).message})`);
  }
  if (!Array.isArray(raw) || raw.length !== 4) throw new ReportError("report", "must be an array [16, requestId, status, detail]");
  if (raw[0] !== ReportKind.OUTCOME) throw new ReportError("kind", `unknown report kind ${shown(raw[0])}`);
  const [, wideId, status, detail] = raw;
  // cbor-x gives integers beyond 32 bits as BigInt; request ids are below 2^53, so exact as numbers.
  const requestId = typeof wideId === "bigint" && wideId <= BigInt(MAX_REQUEST_ID) ? Number(wideId) : wideId;
  if (typeof requestId !== "number" || !Number.isSafeInteger(requestId) || requestId < 1) throw new ReportError("requestId", "must be a positive integer");
  if (typeof status !== "number" || !STATUSES.has(status)) throw new ReportError("status", `unknown status ${shown(status)}`);
  if (detail !== null && (typeof detail !== "string" || utf8Bytes(detail) > MAX_DETAIL_BYTES)) {
    throw new ReportError("detail", `must be null or text of at most ${MAX_DETAIL_BYTES} bytes`);
  }
  return { requestId, status: status as OutcomeStatusCode, detail };
}
