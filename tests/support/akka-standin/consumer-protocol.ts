/*
 * The decisions of ConsumeEvent without the call: one session per stream
 * turns each incoming message into a step (start, consume, ignore) or a
 * StatusError naming what was wrong with it.
 */
import { timestampProblem } from "./event-time.js";
import { decodeTemperatureRead, TEMPERATURE_READ_TYPE_URL } from "./protos.js";
import { sliceOf } from "./slice.js";
import type { ConsumedEvent } from "./standin-store.js";
import { StatusError } from "./status-error.js";
import type { ConsumeEventIn, ConsumerEventInit, Event, FilteredEvent } from "./wire.js";

/** The one stream the iot-service consumes. */
export const TEMPERATURE_STREAM_ID = "temperature-events";

export type ConsumerStep =
  | { kind: "start"; init: ConsumerEventInit }
  | { kind: "consume"; event: ConsumedEvent }
  | { kind: "keep-alive" };

export class ConsumerSession {
  #init: ConsumerEventInit | undefined;

  /** What to do with `message`; throws StatusError for one that ends the stream. */
  receive(message: ConsumeEventIn): ConsumerStep {
    if (!this.#init) {
      if (message.message !== "init" || !message.init) {
        throw new StatusError("INVALID_ARGUMENT", `the first message of ConsumeEvent must be ConsumerEventInit, not ${message.message ?? "an empty ConsumeEventIn"}`);
      }
      if (message.init.stream_id !== TEMPERATURE_STREAM_ID) {
        throw new StatusError("PERMISSION_DENIED", `stream id ${JSON.stringify(message.init.stream_id)} is not accepted; this consumer takes ${JSON.stringify(TEMPERATURE_STREAM_ID)}`);
      }
      this.#init = message.init;
      return { kind: "start", init: message.init };
    }
    switch (message.message) {
      case "event": return { kind: "consume", event: this.#consumed(message.event!, "event") };
      case "filtered_event": return { kind: "consume", event: this.#consumed(message.filtered_event!, "filtered") };
      case "keep_alive": return { kind: "keep-alive" };
      case "init": throw new StatusError("INVALID_ARGUMENT", "a second ConsumerEventInit on an initialised ConsumeEvent stream");
      default: throw new StatusError("INVALID_ARGUMENT", "a ConsumeEventIn with no message set");
    }
  }

  #consumed(event: Event | FilteredEvent, kind: "event" | "filtered"): ConsumedEvent {
    const { persistence_id: pid, seq_nr: seqNr } = event;
    const name = `${kind === "event" ? "Event" : "FilteredEvent"} ${JSON.stringify(pid)} seq_nr ${seqNr}`;
    const bar = pid.indexOf("|");
    if (bar <= 0 || bar === pid.length - 1) throw new StatusError("INVALID_ARGUMENT", `${name}: persistence id is not "<EntityType>|<entityId>"`);
    if (!Number.isSafeInteger(seqNr) || seqNr < 1) throw new StatusError("INVALID_ARGUMENT", `${name}: seq_nr must be 1 or more`);
    if (event.slice !== sliceOf(pid)) throw new StatusError("INVALID_ARGUMENT", `${name}: slice ${event.slice} should be ${sliceOf(pid)} (abs(javaStringHashCode(pid) % 1024))`);
    // A pushing producer sends its own offset first; more (per slice) say nothing this consumer stores.
    const timestamp = event.offset[0]?.timestamp ?? null;
    const problem = timestamp && timestampProblem(timestamp, `${name}: offset.timestamp`);
    if (problem) throw new StatusError("INVALID_ARGUMENT", problem);
    const base = { persistenceId: pid, seqNr, originId: this.#init!.origin_id, streamId: this.#init!.stream_id, slice: event.slice, source: event.source, timestamp };
    if (kind === "filtered") return { ...base, kind, typeUrl: null, payload: null, temperature: null };
    const payload = (event as Event).payload;
    if (!payload || !payload.type_url) throw new StatusError("INVALID_ARGUMENT", `${name}: no payload (source ${JSON.stringify(event.source)})`);
    const bytes = Buffer.from(payload.value);
    let temperature: number | null = null;
    if (payload.type_url === TEMPERATURE_READ_TYPE_URL) {
      try {
        temperature = decodeTemperatureRead(bytes);
      } catch (e) {
        throw new StatusError("INVALID_ARGUMENT", `${name}: payload is not a valid iot.temperature.TemperatureRead: ${(e as Error).message}`);
      }
    }
    return { ...base, kind, typeUrl: payload.type_url, payload: bytes, temperature };
  }
}
