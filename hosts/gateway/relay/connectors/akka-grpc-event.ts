/*
 * One relayed observation as an Akka Projection gRPC event, the way the
 * Akka Edge sample's producer push shapes it: persistence id
 * "<EntityType>|<sensorId>", seq_nr = the observation's seq, its slice, an
 * offset of the gateway's receive time and that one (pid, seq_nr), and the
 * payload in an Any. Pure: no I/O, tested directly.
 */
import type { ObservationKey, RelayedObservation } from "../connector.js";
import type { EventIn, FilteredEventIn, OffsetIn, TimestampIn } from "../../../grpc/messages.js";
import { OBSERVATION_RECORDED, PayloadError, TEMPERATURE_READ, packAny } from "../../../grpc/payload.js";
import { persistenceIdOf, sliceOf } from "../../../grpc/persistence-id.js";
import { TimestampError, timestampFromMillis } from "../../../grpc/timestamp.js";
import { unitOf } from "../../../../modules/observation/observation-json.js";

/**
 * "temperature": iot.temperature.TemperatureRead, what the Akka sample's
 * cloud understands (whole °C; other quantities are not sent).
 * "observation": xsedge.observation.v1.ObservationRecorded, everything.
 */
export type PayloadKind = "temperature" | "observation";

export interface EventEncoding {
  entityType: string;
  payload: PayloadKind;
}

/** What goes on the ConsumeEvent stream for one observation (a oneof: give just the field). */
export type EventMessage = { event: EventIn } | { filtered_event: FilteredEventIn };

export interface EncodedEvent {
  key: ObservationKey;
  persistenceId: string;
  seqNr: number;
  /** A FilteredEvent: nothing to say in this payload kind, but the seq_nr must still reach the cloud. */
  filtered: boolean;
  message: EventMessage;
}

/** An observation that cannot become an event; `key` names it. */
export class EventEncodingError extends Error {
  constructor(readonly key: ObservationKey, message: string) {
    super(`cannot encode ${key.sensorId}#${key.seq} as an event: ${message}`);
    this.name = "EventEncodingError";
  }
}

/** TemperatureRead.temperature is an int32. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** xsedge.observation.v1.TimeSource by number (protobufjs verifies enums as numbers). */
const TIME_SOURCE = { device: 1, gateway: 2 } as const;

export function keyString(persistenceId: string, seqNr: number): string {
  return `${persistenceId}\u0000${seqNr}`;
}

function timestamp(key: ObservationKey, what: string, ms: number): TimestampIn {
  try {
    return timestampFromMillis(ms);
  } catch (error) {
    if (error instanceof TimestampError) throw new EventEncodingError(key, `${what}: ${error.message}`);
    throw error;
  }
}

/** Whole °C as the sample has it (Math.round: half up, as Java's Math.round), or null without a temperature reading. */
export function wholeDegrees(observation: RelayedObservation): number | null {
  const reading = observation.readings.find((r) => r.quantity === "temperature");
  if (reading === undefined) return null;
  const degrees = Math.round(reading.value);
  if (!Number.isInteger(degrees) || degrees < INT32_MIN || degrees > INT32_MAX) {
    throw new EventEncodingError({ sensorId: observation.sensorId, seq: observation.seq }, `temperature ${reading.value} is not an int32 of whole °C`);
  }
  return degrees;
}

function observationRecorded(observation: RelayedObservation, receivedAt: TimestampIn): Record<string, unknown> {
  const key = { sensorId: observation.sensorId, seq: observation.seq };
  return {
    sensor_id: observation.sensorId,
    seq: observation.seq,
    boot: observation.boot,
    uptime_ms: observation.uptimeMs,
    // Absent, not zero, while no clock anchor gave wall time: a zero time would be a lie.
    ...(observation.time === undefined ? {} : { time: timestamp(key, "time", observation.time) }),
    ...(observation.timeSource === undefined ? {} : { time_source: TIME_SOURCE[observation.timeSource] }),
    readings: observation.readings.map((r) => ({ quantity: r.quantity, unit: unitOf(r), value: r.value })),
    received_at: receivedAt,
  };
}

export function encodeObservationEvent(observation: RelayedObservation, encoding: EventEncoding): EncodedEvent {
  const key: ObservationKey = { sensorId: observation.sensorId, seq: observation.seq };
  if (!Number.isSafeInteger(observation.seq) || observation.seq < 1) throw new EventEncodingError(key, `seq must be an integer >= 1 (it is the seq_nr)`);
  const persistenceId = persistenceIdOf(encoding.entityType, observation.sensorId);
  const receivedAt = timestamp(key, "receivedAt", observation.receivedAt);
  // The cloud stores this offset; `seen` tells it which event of that timestamp it has.
  const offset: OffsetIn = { timestamp: receivedAt, seen: [{ persistence_id: persistenceId, seq_nr: observation.seq }] };
  const head = { persistence_id: persistenceId, seq_nr: observation.seq, slice: sliceOf(persistenceId), offset: [offset], source: "" };
  let payload;
  try {
    if (encoding.payload === "observation") {
      payload = packAny(OBSERVATION_RECORDED, observationRecorded(observation, receivedAt));
    } else {
      const degrees = wholeDegrees(observation);
      if (degrees === null) return { key, persistenceId, seqNr: observation.seq, filtered: true, message: { filtered_event: head } };
      payload = packAny(TEMPERATURE_READ, { temperature: degrees });
    }
  } catch (error) {
    if (error instanceof PayloadError) throw new EventEncodingError(key, error.message);
    throw error;
  }
  return { key, persistenceId, seqNr: observation.seq, filtered: false, message: { event: { ...head, payload, tags: [] } } };
}
