/*
 * What the cloud makes of one Event a gateway sends over ConsumeEvent: an
 * observation to store, or a quarantined event with the reason. Pure: the
 * consumer service does the storing and acking.
 *
 * The persistence id's entity id is the sensor id (whatever the entity
 * type, as the gateway reads registrations); seq_nr is the observation's
 * seq; the offset's timestamp is the gateway's receive time. The event's
 * slice is not checked: the cloud computes its own.
 */
import type { Event } from "../../../hosts/grpc/messages.js";
import { OBSERVATION_RECORDED, PayloadError, TEMPERATURE_READ, unpackAny } from "../../../hosts/grpc/payload.js";
import { parsePersistenceId, parseSeqNr, PersistenceIdError } from "../../../hosts/grpc/persistence-id.js";
import { messageType } from "../../../hosts/grpc/protocol.js";
import { millisOf, TimestampError } from "../../../hosts/grpc/timestamp.js";
import { ObservationError, SENSOR_ID_PATTERN } from "../../../modules/observation/record.js";
import type { ConsumedObservation } from "../cloud-store.js";
import { observationFromRecorded, observationFromTemperatureRead, type ObservationRecordedMessage } from "./observation-payload.js";
import type { QuarantinedEvent, QuarantineReason } from "./quarantine-table.js";

export const ACCEPTED_PAYLOADS: readonly string[] = Object.freeze([TEMPERATURE_READ, OBSERVATION_RECORDED]);
const EVENT_TYPE = "akka.projection.grpc.Event";

export type ConsumedEvent =
  | { kind: "observation"; observation: ConsumedObservation }
  | { kind: "quarantine"; quarantined: QuarantinedEvent };

class Refused extends Error {
  constructor(readonly reason: QuarantineReason, message: string) {
    super(message);
  }
}

/** The event's protobuf bytes, as it came (less unknown fields): what quarantine keeps. */
export function eventBytes(event: Event): Uint8Array {
  const type = messageType(EVENT_TYPE);
  return type.encode(type.fromObject(event)).finish();
}

function eventFields(event: Event): { sensorId: string; seq: number; millis: number } {
  try {
    const { entityId } = parsePersistenceId(event.persistence_id);
    if (!SENSOR_ID_PATTERN.test(entityId)) throw new PersistenceIdError(`entity id "${entityId}" of ${event.persistence_id} is not a sensor id (1 to 64 letters, digits or . _ : -)`);
    const seq = parseSeqNr(event.seq_nr, event.persistence_id);
    // Upstream's repeated Offset: the producer's own (first) one dates the event.
    const timestamp = event.offset.find((offset) => offset.timestamp !== null)?.timestamp;
    if (timestamp === undefined || timestamp === null) throw new TimestampError("event has no offset timestamp");
    return { sensorId: entityId, seq, millis: millisOf(timestamp) };
  } catch (error) {
    if (error instanceof PersistenceIdError || error instanceof TimestampError) throw new Refused("malformed-event", error.message);
    throw error;
  }
}

function observationOf(event: Event): ConsumedObservation {
  const { sensorId, seq, millis } = eventFields(event);
  if (event.payload === null) throw new Refused("malformed-event", `event ${event.persistence_id} seq_nr ${event.seq_nr} has no payload`);
  try {
    const { type, message } = unpackAny(event.payload, ACCEPTED_PAYLOADS);
    const observation =
      type === TEMPERATURE_READ
        ? observationFromTemperatureRead(sensorId, seq, (message as { temperature: number }).temperature, millis)
        : observationFromRecorded(message as unknown as ObservationRecordedMessage, sensorId, seq, millis);
    return { ...observation, payload: event.payload };
  } catch (error) {
    if (error instanceof PayloadError) throw new Refused(error.message.startsWith("unknown") ? "unknown-payload-type" : "malformed-payload", error.message);
    if (error instanceof ObservationError || error instanceof TimestampError) {
      throw new Refused("malformed-payload", `${event.payload.type_url}: ${error.message}`);
    }
    throw error;
  }
}

/** Classifies one received Event of stream `streamId` from gateway `originId`. */
export function consumeEvent(event: Event, originId: string, streamId: string): ConsumedEvent {
  try {
    return { kind: "observation", observation: observationOf(event) };
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    const quarantined: QuarantinedEvent = {
      originId, streamId, persistenceId: event.persistence_id, seqNr: String(event.seq_nr),
      reason: error.reason, detail: error.message, event: eventBytes(event),
    };
    return { kind: "quarantine", quarantined };
  }
}
