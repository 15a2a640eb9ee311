/*
 * The pure decision on one publish before anything is stored: does its
 * topic name a sensor, is its payload a valid record (within
 * MAX_RECORD_BYTES, decoded and checked by the record decoder) of that
 * sensor, and is that sensor the one the publisher authenticated as. The
 * reasons a publish is refused are named here, for the counters, the
 * quarantine and the log (ingest.ts adds those effects).
 */
import { decodeUplinkRecord, type UplinkRecord } from "../../../modules/observation/record-decoder.js";
import { ObservationError, MAX_RECORD_BYTES } from "../../../modules/observation/record.js";

/**
 * Devices publish every record, observations and clock anchors alike, on
 * `xsedge/v1/<sensorId>/up` (the id pattern is the record's); the record's
 * first element says which kind it is. One topic keeps a device's records
 * in one ordered stream, so an anchor sent before the backlog arrives first.
 */
const UPLINK_TOPIC = /^xsedge\/v1\/([A-Za-z0-9._:-]{1,64})\/up$/;

export function uplinkTopic(sensorId: string): string {
  return `xsedge/v1/${sensorId}/up`;
}

/**
 * "clock-unset": a null anchor asks for the gateway's clock, and it is not set (no NTP yet).
 * "wrong-sensor": a device published a record for a sensor other than the one it authenticated as.
 */
export const REFUSAL_REASONS = ["bad-topic", "too-large", "malformed", "sensor-mismatch", "seq-conflict", "clock-unset", "wrong-sensor"] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  kind: "refused";
  reason: RefusalReason;
  /** The record field at fault ("topic" for a bad topic). */
  field: string;
  detail: string;
}

export type Classification = { kind: "valid"; record: UplinkRecord } | Refusal;

export function refuse(reason: RefusalReason, field: string, detail: string): Refusal {
  return { kind: "refused", reason, field, detail };
}

function sensorOf(record: UplinkRecord): string {
  if (record.kind === "observation") return record.observation.sensorId;
  return record.kind === "batch" ? record.observations[0].sensorId : record.anchor.sensorId;
}

/** Decides whether a publish carries a valid record for the sensor its topic names. */
export function classify(topic: string, payload: Uint8Array): Classification {
  const match = UPLINK_TOPIC.exec(topic);
  if (!match) return refuse("bad-topic", "topic", `topic must be xsedge/v1/<sensorId>/up`);
  // Checked before decoding so the reason says what is wrong, not "not CBOR".
  if (payload.byteLength > MAX_RECORD_BYTES) {
    return refuse("too-large", "record", `${payload.byteLength} bytes, limit is ${MAX_RECORD_BYTES}`);
  }
  let record: UplinkRecord;
  try {
    record = decodeUplinkRecord(payload);
  } catch (e) {
    if (e instanceof ObservationError) return refuse("malformed", e.field, e.message);
    return refuse("malformed", "record", `undecodable (${(e as Error).message})`);
  }
  const sensorId = sensorOf(record);
  if (sensorId !== match[1]) {
    return refuse("sensor-mismatch", "sensorId", `record is from "${sensorId}" but the topic names "${match[1]}"`);
  }
  return { kind: "valid", record };
}

/** A valid record is still refused when it is not the authenticated publisher's own (see PublishInput). */
export function checkPublisher(decision: Classification, authenticatedAs: string | null | undefined): Classification {
  if (decision.kind !== "valid" || authenticatedAs === undefined) return decision;
  const sensorId = sensorOf(decision.record);
  if (sensorId === authenticatedAs) return decision;
  const who = authenticatedAs === null ? "a publish with no authenticated client" : `client authenticated as "${authenticatedAs}"`;
  return refuse("wrong-sensor", "sensorId", `${who} may not publish for sensor "${sensorId}"`);
}
