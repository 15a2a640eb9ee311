/*
 * Observations <-> the event payloads of stream `temperature-events`: the
 * Akka sample's TemperatureRead (whole °C, nothing else) and our
 * ObservationRecorded (everything an observation holds). Pure: no store, no
 * socket; a payload that cannot be an observation is an ObservationError
 * naming the field, for the caller to quarantine.
 */
import type { AnyMessage, Timestamp, TimestampIn } from "../../../hosts/grpc/messages.js";
import { OBSERVATION_RECORDED, packAny } from "../../../hosts/grpc/payload.js";
import { millisOf, timestampFromMillis } from "../../../hosts/grpc/timestamp.js";
import { observationFromJson, type ObservationJson } from "../../../modules/observation/observation-json.js";
import { ObservationError } from "../../../modules/observation/record.js";
import type { IncomingObservation } from "../validate.js";

/** ObservationRecorded as protocol.ts decodes it (int64 as decimal strings, enums by name). */
export interface ObservationRecordedMessage {
  sensor_id: string;
  seq: string;
  boot: number;
  uptime_ms: string;
  time: Timestamp | null;
  time_source: string;
  readings: { quantity: string; unit: string; value: number }[];
  received_at: Timestamp | null;
}

// Numbers when encoding: protobufjs's verify() takes enum values, not their names.
const TIME_SOURCE_ENUM = { device: 1, gateway: 2 } as const;
const TIME_SOURCE_OF: Record<string, "device" | "gateway" | null> = {
  TIME_SOURCE_UNSPECIFIED: null,
  TIME_SOURCE_DEVICE: "device",
  TIME_SOURCE_GATEWAY: "gateway",
};

function exactUint(raw: string, field: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new ObservationError(field, `must be below 2^53, got ${raw}`);
  return value;
}

/**
 * A TemperatureRead carries one whole-degree value and no device clock: it
 * becomes a temperature reading timed by the event's timestamp (the
 * gateway's receive time), with boot and uptime 0 since the sender never
 * said.
 */
export function observationFromTemperatureRead(sensorId: string, seq: number, temperature: number, receivedAt: number): IncomingObservation {
  const observation = observationFromJson({
    sensorId, seq, boot: 0, uptimeMs: 0, time: receivedAt, timeSource: "gateway",
    readings: [{ quantity: "temperature", unit: "Cel", value: temperature }],
  });
  return { ...observation, receivedAt };
}

/**
 * The observation an ObservationRecorded holds, checked by the same rules as
 * one that came over HTTP; its sensor id and seq must be the event's own.
 * Its receive time defaults to the event's timestamp.
 */
export function observationFromRecorded(message: ObservationRecordedMessage, sensorId: string, seq: number, eventMillis: number): IncomingObservation {
  if (message.sensor_id !== sensorId) throw new ObservationError("sensor_id", `"${message.sensor_id}" is not the event's sensor "${sensorId}"`);
  if (exactUint(message.seq, "seq") !== seq) throw new ObservationError("seq", `${message.seq} is not the event's seq_nr ${seq}`);
  const timeSource = TIME_SOURCE_OF[message.time_source];
  if (timeSource === undefined) throw new ObservationError("time_source", `unknown value ${message.time_source}`);
  const observation = observationFromJson({
    sensorId,
    seq,
    boot: message.boot,
    uptimeMs: exactUint(message.uptime_ms, "uptime_ms"),
    time: message.time === null ? null : millisOf(message.time),
    timeSource,
    // An unset unit ("" in proto3) means the quantity's own.
    readings: message.readings.map(({ quantity, unit, value }) => (unit === "" ? { quantity, value } : { quantity, unit, value })),
  });
  return { ...observation, receivedAt: message.received_at === null ? eventMillis : millisOf(message.received_at) };
}

/** The ObservationRecorded payload of a stored observation (one that came over HTTP has no original payload). */
export function recordedPayloadOf(observation: ObservationJson & { receivedAt: number | null }): AnyMessage {
  const message: Record<string, unknown> = {
    sensor_id: observation.sensorId,
    seq: observation.seq,
    boot: observation.boot,
    uptime_ms: observation.uptimeMs,
    time_source: observation.timeSource === null ? 0 : TIME_SOURCE_ENUM[observation.timeSource],
    readings: observation.readings,
  };
  if (observation.time !== null) message.time = timestampFromMillis(observation.time) satisfies TimestampIn;
  if (observation.receivedAt !== null) message.received_at = timestampFromMillis(observation.receivedAt);
  return packAny(OBSERVATION_RECORDED, message);
}
