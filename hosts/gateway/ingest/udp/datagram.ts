/*
 * What one UDP datagram is: an xsedge CBOR record (modules/SPEC.md) or the
 * Akka Edge sample's Postcard TemperatureUpdated (postcard.ts), from a
 * registered sensor; or why it is refused. Pure: the shell (udp-ingest.ts)
 * acts on the answer.
 *
 * The rule: a datagram is accepted when either strict decoder accepts it.
 * No byte string is accepted by both, so the order does not matter: a
 * Postcard message has exactly two bytes below 0x80 (the last byte of each
 * varint), while a valid record has at least three: its kind (1 to 3), its
 * sensor id's text head (0x61-0x78) and the id's ASCII characters.
 * A datagram neither accepts is refused as malformed, with the error of
 * the form it looks like (`looksLikeRecord`), so the log says something
 * useful; which error is reported changes nothing else.
 */
import { decodeUplinkRecord, type UplinkRecord } from "../../../../modules/observation/record-decoder.js";
import { MAX_RECORD_BYTES, ObservationError } from "../../../../modules/observation/record.js";
import { decodeTemperatureUpdated, MAX_POSTCARD_BYTES, PostcardError, type TemperatureUpdated } from "./postcard.js";

/**
 * The largest datagram looked at: our largest record (one flash-log frame,
 * 255 bytes); a Postcard message is at most 10. Anything bigger is neither.
 */
export const MAX_DATAGRAM_BYTES = Math.max(MAX_RECORD_BYTES, MAX_POSTCARD_BYTES);

export type DatagramRefusalReason = "malformed" | "too-large" | "unregistered";

export interface DatagramRefusal {
  kind: "refused";
  reason: DatagramRefusalReason;
  /** The field at fault: a record field, a Postcard field (dev_addr, temperature), or "datagram". */
  field: string;
  detail: string;
}

export type DatagramDecision =
  | { kind: "postcard"; sensorId: string; message: TemperatureUpdated }
  | { kind: "record"; sensorId: string; record: UplinkRecord }
  | DatagramRefusal;

function refuse(reason: DatagramRefusalReason, field: string, detail: string): DatagramRefusal {
  return { kind: "refused", reason, field, detail };
}

/** A CBOR array head of 5 to 23 elements (every record kind has at least 5) followed by a record kind. */
export function looksLikeRecord(bytes: Uint8Array): boolean {
  if (bytes.byteLength > MAX_POSTCARD_BYTES) return true;
  return bytes.byteLength >= 2 && bytes[0] >= 0x85 && bytes[0] <= 0x97 && bytes[1] >= 1 && bytes[1] <= 3;
}

function recordSensor(record: UplinkRecord): string {
  if (record.kind === "observation") return record.observation.sensorId;
  return record.kind === "batch" ? record.observations[0].sensorId : record.anchor.sensorId;
}

/**
 * Decides what a datagram is and whether its sensor may send. A Postcard
 * dev_addr N is sensor id "N" (decimal, no leading zeros).
 */
export function classifyDatagram(bytes: Uint8Array, isRegistered: (sensorId: string) => boolean): DatagramDecision {
  if (bytes.byteLength === 0) return refuse("malformed", "datagram", "empty datagram");
  if (bytes.byteLength > MAX_DATAGRAM_BYTES) {
    return refuse("too-large", "datagram", `${bytes.byteLength} bytes, limit is ${MAX_DATAGRAM_BYTES}`);
  }
  let postcardError: PostcardError | undefined;
  let decided: { kind: "postcard"; sensorId: string; message: TemperatureUpdated } | { kind: "record"; sensorId: string; record: UplinkRecord };
  try {
    const message = decodeTemperatureUpdated(bytes);
    decided = { kind: "postcard", sensorId: String(message.devAddr), message };
  } catch (e) {
    if (!(e instanceof PostcardError)) throw e;
    postcardError = e;
    try {
      const record = decodeUplinkRecord(bytes);
      decided = { kind: "record", sensorId: recordSensor(record), record };
    } catch (e) {
      const recordError = e instanceof ObservationError ? e : new ObservationError("record", `undecodable (${(e as Error).message})`);
      const [shown, other] = looksLikeRecord(bytes) ? [recordError, postcardError] : [postcardError, recordError];
      return refuse("malformed", shown.field, `${shown.message} (as the other form: ${other.message})`);
    }
  }
  if (!isRegistered(decided.sensorId)) {
    return refuse("unregistered", decided.kind === "postcard" ? "dev_addr" : "sensorId", `sensor "${decided.sensorId}" is not registered`);
  }
  return decided;
}
