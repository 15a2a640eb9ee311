/*
 * EventProducerService over grpc-js: EventsBySlices replays the journal from
 * the consumer's offset, then pushes each new event as it is appended;
 * LoadEvent and EventTimestamp answer from the journal.
 */
import type * as grpc from "@grpc/grpc-js";
import { EventFilter } from "./event-filter.js";
import { isAfterResumePoint, firstMicrosOf, timestampOfMicros } from "./event-time.js";
import { checkStreamId, inSlices, parseInit, REGISTRATION_ENTITY_TYPE, wireEvent, wireFilteredEvent, type ProducerInit } from "./producer-protocol.js";
import { entityIdOf } from "./slice.js";
import type { JournalEvent } from "./standin-store.js";
import { asStatusError, serviceError, StatusError } from "./status-error.js";
import { unavailable, type ServiceContext } from "./service-context.js";
import type { EventTimestampRequest, EventTimestampResponse, LoadEventRequest, LoadEventResponse, StreamIn, StreamOut } from "./wire.js";

class EventsBySlicesStream {
  readonly #call: grpc.ServerDuplexStream<StreamIn, StreamOut>;
  readonly #context: ServiceContext;
  readonly #filter = new EventFilter();
  #init: ProducerInit | undefined;
  #sent = 0;
  #closed = false;
  readonly #cleanup: (() => void)[] = [];

  constructor(call: grpc.ServerDuplexStream<StreamIn, StreamOut>, context: ServiceContext) {
    this.#call = call;
    this.#context = context;
    this.#cleanup.push(context.track((error) => this.#fail(error)));
    call.on("data", (message: StreamIn) => this.#guard(() => this.#receive(message)));
    call.on("end", () => this.#end());
    call.on("cancelled", () => this.#close());
    call.on("error", () => this.#close());
  }

  #receive(message: StreamIn): void {
    if (!this.#init) {
      const init = parseInit(message);
      this.#filter.apply(init.filter);
      this.#init = init;
      // Synchronous from here to the subscription: no append can fall between replay and live.
      for (const event of this.#context.store.eventsFrom(firstMicrosOf(init.resume))) {
        if (inSlices(event, init) && isAfterResumePoint(event, init.resume)) this.#send(event);
      }
      if (!this.#closed) this.#cleanup.push(this.#context.onAppend((event) => this.#guard(() => inSlices(event, init) && this.#send(event))));
      return;
    }
    switch (message.message) {
      case "filter":
        for (const { entityId, seqNr } of this.#filter.apply(message.filter?.criteria ?? [])) this.#replay(`${REGISTRATION_ENTITY_TYPE}|${entityId}`, seqNr);
        return;
      case "replay":
        for (const pair of message.replay?.persistence_id_offset ?? []) this.#replay(pair.persistence_id, pair.seq_nr);
        return;
      case "init": throw new StatusError("INVALID_ARGUMENT", "a second InitReq on an initialised EventsBySlices stream");
      default: throw new StatusError("INVALID_ARGUMENT", "a StreamIn with no message set");
    }
  }

  #replay(persistenceId: string, fromSeqNr: number): void {
    for (const event of this.#context.store.eventsOf(persistenceId, fromSeqNr)) this.#send(event);
  }

  #send(event: JournalEvent): void {
    if (this.#closed) return;
    const { store, switches } = this.#context;
    if (!this.#filter.passes(entityIdOf(event.persistenceId), [])) {
      this.#call.write({ filtered_event: wireFilteredEvent(event) });
      store.count("filtered_sent");
    } else {
      const backtracking = switches.isBacktracking(event.ordinal);
      this.#call.write({ event: wireEvent(event, backtracking) });
      store.count(backtracking ? "backtracking_sent" : "events_sent");
    }
    if (switches.resetDue(++this.#sent)) {
      store.count("streams_reset");
      this.#fail(new StatusError("INTERNAL", `stream reset by the stand-in after ${this.#sent} events (fault switch resetAfterEvents)`));
    }
  }

  #guard(run: () => void): void {
    try {
      run();
    } catch (caught) {
      const e = asStatusError(caught);
      this.#context.store.count(e.code === "INTERNAL" ? "internal_errors" : "rejected");
      this.#context.logger.warn("EventsBySlices refused", { code: e.code, error: e.message });
      this.#fail(e);
    }
  }

  #fail(error: StatusError): void {
    if (this.#closed) return;
    this.#close();
    this.#call.emit("error", serviceError(error));
  }

  #end(): void {
    if (this.#closed) return;
    this.#close();
    this.#call.end();
  }

  #close(): void {
    this.#closed = true;
    this.#cleanup.splice(0).forEach((undo) => undo());
  }
}

export function producerService(context: ServiceContext): grpc.UntypedServiceImplementation {
  /** Runs a unary call: `answer` returns the response or throws StatusError. */
  const unary = <Req, Res>(name: string, answer: (request: Req) => Res) => (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    const fail = (error: StatusError) => callback(serviceError(error));
    if (unavailable(context, fail)) return;
    try {
      callback(null, answer(call.request));
    } catch (caught) {
      const e = asStatusError(caught);
      context.logger.info(`${name} refused`, { code: e.code, error: e.message });
      fail(e);
    }
  };
  return {
    EventsBySlices(call: grpc.ServerDuplexStream<StreamIn, StreamOut>) {
      if (unavailable(context, (error) => call.emit("error", serviceError(error)))) return;
      new EventsBySlicesStream(call, context);
    },
    LoadEvent: unary<LoadEventRequest, LoadEventResponse>("LoadEvent", (request) => {
      checkStreamId(request.stream_id);
      const event = context.store.event(request.persistence_id, request.seq_nr);
      if (!event) throw new StatusError("NOT_FOUND", `no event ${JSON.stringify(request.persistence_id)} seq_nr ${request.seq_nr}`);
      context.store.count("events_loaded");
      return { event: wireEvent(event, false) };
    }),
    // Like LoadEvent but for an unknown event the answer carries no timestamp rather than NOT_FOUND.
    EventTimestamp: unary<EventTimestampRequest, EventTimestampResponse>("EventTimestamp", (request) => {
      checkStreamId(request.stream_id);
      const event = context.store.event(request.persistence_id, request.seq_nr);
      return { timestamp: event ? timestampOfMicros(event.timestampUs) : null };
    }),
  };
}
