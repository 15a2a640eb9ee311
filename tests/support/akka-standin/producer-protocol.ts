/*
 * The decisions of EventsBySlices without the call: what a valid first
 * message is, which journal events a consumer gets, and how a journal event
 * looks on the wire (normal, backtracking, or filtered).
 */
import { resumePointOf, timestampOfMicros, timestampProblem, type ResumePoint } from "./event-time.js";
import { SLICE_COUNT } from "./slice.js";
import type { JournalEvent } from "./standin-store.js";
import { StatusError } from "./status-error.js";
import type { Event, FilterCriteria, FilteredEvent, StreamIn } from "./wire.js";

/** The one stream the iot-service produces, and its entity type. */
export const REGISTRATION_STREAM_ID = "registration-events";
export const REGISTRATION_ENTITY_TYPE = "Registration";

export interface ProducerInit {
  sliceMin: number;
  sliceMax: number;
  resume: ResumePoint | undefined;
  filter: FilterCriteria[];
}

/** The first message of a stream as an init request; throws StatusError naming what is wrong. */
export function parseInit(message: StreamIn): ProducerInit {
  const init = message.message === "init" ? message.init : undefined;
  if (!init) throw new StatusError("INVALID_ARGUMENT", `the first message of EventsBySlices must be InitReq, not ${message.message ?? "an empty StreamIn"}`);
  checkStreamId(init.stream_id);
  const { slice_min: sliceMin, slice_max: sliceMax } = init;
  if (sliceMin < 0 || sliceMax >= SLICE_COUNT || sliceMin > sliceMax) {
    throw new StatusError("INVALID_ARGUMENT", `slice range ${sliceMin}-${sliceMax} is not within 0-${SLICE_COUNT - 1} with min <= max`);
  }
  init.offset.forEach((offset, i) => {
    const problem = offset.timestamp && timestampProblem(offset.timestamp, `InitReq.offset[${i}].timestamp`);
    if (problem) throw new StatusError("INVALID_ARGUMENT", problem);
  });
  return { sliceMin, sliceMax, resume: resumePointOf(init.offset), filter: init.filter };
}

export function checkStreamId(streamId: string): void {
  if (streamId !== REGISTRATION_STREAM_ID) throw new StatusError("NOT_FOUND", `unknown stream id ${JSON.stringify(streamId)}; this producer has ${JSON.stringify(REGISTRATION_STREAM_ID)}`);
}

export function inSlices(event: JournalEvent, init: ProducerInit): boolean {
  return event.slice >= init.sliceMin && event.slice <= init.sliceMax;
}

/** Event.offset is repeated upstream; this producer keeps one offset for the stream, so it sends one. */
function offsetOf(event: JournalEvent) {
  return [{ timestamp: timestampOfMicros(event.timestampUs), seen: [{ persistence_id: event.persistenceId, seq_nr: event.seqNr }] }];
}

/** A journal event as Event; a backtracking one ("BT") carries no payload, for the consumer to LoadEvent. */
export function wireEvent(event: JournalEvent, backtracking: boolean): Event {
  return {
    persistence_id: event.persistenceId,
    seq_nr: event.seqNr,
    slice: event.slice,
    offset: offsetOf(event),
    payload: backtracking ? null : { type_url: event.typeUrl, value: event.payload },
    source: backtracking ? "BT" : "",
    metadata: null,
    tags: [],
  };
}

/** A journal event the consumer's filter excludes: announced, so the consumer's offset moves on. */
export function wireFilteredEvent(event: JournalEvent): FilteredEvent {
  return { persistence_id: event.persistenceId, seq_nr: event.seqNr, slice: event.slice, offset: offsetOf(event), source: "" };
}
