/*
 * A small EventProducerService for the registration consumer's tests, built
 * from our protos on a real grpc-js server (127.0.0.1): a journal of events
 * replayed to each stream from its InitReq offset (timestamp, minus the
 * seen pairs) and then streamed live, LoadEvent from the journal, and knobs
 * for the faults: raw messages (or bytes) outside the journal, a refused stream, a
 * reset, a failing LoadEvent. It records every InitReq and LoadEventRequest.
 */
import * as grpc from "@grpc/grpc-js";
import type { EventIn, InitReq, LoadEventRequest, StreamIn } from "../../hosts/grpc/messages.js";
import { packAny, REGISTERED } from "../../hosts/grpc/payload.js";
import { persistenceIdOf, sliceOf } from "../../hosts/grpc/persistence-id.js";
import { EVENT_PRODUCER_SERVICE, grpcService } from "../../hosts/grpc/protocol.js";
import { microsOf, timestampFromMicros } from "../../hosts/grpc/timestamp.js";
import { serverCredentials, type ServerTlsFiles } from "../../hosts/grpc/tls.js";

/** What the fake sends: an event or filtered event, as grpc-js serialises it (just the oneof's field). */
export type Outgoing = { event: Record<string, unknown> } | { filtered_event: Record<string, unknown> };

type Stream = grpc.ServerDuplexStream<StreamIn, Outgoing | Buffer>;

/** A Registered event of `Registration|<entityId>` at `micros` (µs since the epoch). */
export function registered(entityId: string, seqNr: number, secret: string, micros: number): EventIn {
  const pid = persistenceIdOf("Registration", entityId);
  return {
    persistence_id: pid, seq_nr: seqNr, slice: sliceOf(pid), source: "",
    offset: [{ timestamp: timestampFromMicros(micros), seen: [{ persistence_id: pid, seq_nr: seqNr }] }],
    payload: packAny(REGISTERED, { secret: { value: secret } }),
  };
}

/** The backtracking copy of `event`: same position, no payload. */
export function backtracking(event: EventIn): EventIn {
  return { ...event, source: "BT", payload: null };
}

function microsOrNull(event: EventIn): number | null {
  try {
    return microsOf(event.offset[0].timestamp);
  } catch {
    return null;
  }
}

export interface FakeProducerOptions {
  port?: number;
  tls?: ServerTlsFiles;
  streamId?: string;
  /** false: no response header until the first event, as grpc-js servers (and stand-ins on them) do by default. */
  headersOnInit?: boolean;
}

export class FakeEventProducer {
  readonly inits: InitReq[] = [];
  readonly loads: LoadEventRequest[] = [];
  readonly journal: EventIn[] = [];
  /** Answer each new stream with this status instead of events. */
  refuse: { code: grpc.status; details: string } | null = null;
  /** Overrides LoadEvent's answer: an event to send, or a status to fail with. */
  loadAnswer: ((request: LoadEventRequest) => Outgoing | { code: grpc.status; details: string }) | null = null;
  readonly #server: grpc.Server;
  readonly #streams = new Set<Stream>();
  readonly #streamId: string;
  readonly #headersOnInit: boolean;
  port = 0;

  static async start(options: FakeProducerOptions = {}): Promise<FakeEventProducer> {
    const producer = new FakeEventProducer(options.streamId ?? "registration-events", options.headersOnInit ?? true);
    producer.port = await new Promise<number>((resolve, reject) =>
      producer.#server.bindAsync(`127.0.0.1:${options.port ?? 0}`, serverCredentials(options.tls), (error, port) => (error ? reject(error) : resolve(port))),
    );
    return producer;
  }

  private constructor(streamId: string, headersOnInit: boolean) {
    this.#streamId = streamId;
    this.#headersOnInit = headersOnInit;
    this.#server = new grpc.Server();
    const definition = grpcService(EVENT_PRODUCER_SERVICE).service;
    const method = definition.EventsBySlices;
    // A Buffer goes out as is: how the tests send bytes that are no StreamOut.
    const raw = { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : method.responseSerialize(value)) };
    this.#server.addService({ ...definition, EventsBySlices: raw }, {
      EventsBySlices: (stream: Stream) => this.#eventsBySlices(stream),
      LoadEvent: (call: grpc.ServerUnaryCall<LoadEventRequest, Outgoing>, callback: grpc.sendUnaryData<Outgoing>) => this.#loadEvent(call.request, callback),
      EventTimestamp: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback({ code: grpc.status.UNIMPLEMENTED, details: "not in the fake" }),
    });
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Journals the event and sends it to every open stream (live). */
  append(...events: EventIn[]): void {
    for (const event of events) {
      this.journal.push(event);
      this.send({ event: { ...event } });
    }
  }

  /** Sends a message (or raw bytes) to every open stream without journaling it (bad input, backtracking copies). */
  send(message: Outgoing | Buffer): void {
    for (const stream of this.#streams) stream.write(message);
  }

  /** Ends every open stream with an error status, as a producer that resets them. */
  reset(code = grpc.status.UNAVAILABLE, details = "stream reset by the fake producer"): void {
    for (const stream of this.#streams) stream.emit("error", { code, details });
    this.#streams.clear();
  }

  async close(): Promise<void> {
    this.#streams.clear();
    this.#server.forceShutdown();
  }

  #eventsBySlices(stream: Stream): void {
    stream.once("data", (first: StreamIn) => {
      if (first.message !== "init") {
        stream.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "the first message must be init" });
        return;
      }
      this.inits.push(first.init);
      if (this.refuse !== null) {
        stream.emit("error", this.refuse);
        return;
      }
      if (first.init.stream_id !== this.#streamId) {
        stream.emit("error", { code: grpc.status.NOT_FOUND, details: `stream id ${first.init.stream_id} is not known` });
        return;
      }
      if (this.#headersOnInit) stream.sendMetadata(new grpc.Metadata());
      this.#streams.add(stream);
      stream.on("cancelled", () => this.#streams.delete(stream));
      stream.on("end", () => this.#streams.delete(stream));
      const { slice_min, slice_max } = first.init;
      const offset = first.init.offset[0];
      const from = offset?.timestamp ? microsOf(offset.timestamp) : -1;
      const seen = new Set((offset?.seen ?? []).map((s) => `${s.persistence_id}\u0000${s.seq_nr}`));
      for (const event of this.journal) {
        // An event with a broken timestamp (a fault under test) is sent to every stream.
        const micros = microsOrNull(event);
        if (event.slice < slice_min || event.slice > slice_max || (micros !== null && micros < from)) continue;
        if (micros === from && seen.has(`${event.persistence_id}\u0000${event.seq_nr}`)) continue;
        stream.write({ event: { ...event } });
      }
    });
  }

  #loadEvent(request: LoadEventRequest, callback: grpc.sendUnaryData<Outgoing>): void {
    this.loads.push(request);
    const answer = this.loadAnswer?.(request);
    if (answer !== undefined) {
      if ("code" in answer) callback(answer);
      else callback(null, answer);
      return;
    }
    const found = this.journal.find((e) => e.persistence_id === request.persistence_id && String(e.seq_nr) === String(request.seq_nr));
    if (found === undefined) callback({ code: grpc.status.NOT_FOUND, details: `no event ${request.persistence_id} ${request.seq_nr}` });
    else callback(null, { event: { ...found } });
  }
}
