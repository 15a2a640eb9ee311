/*
 * A small EventConsumerService for producer tests: a real grpc-js server
 * on 127.0.0.1 with our protos that records what it is sent and acks it,
 * with switches for the faults a producer must survive: holding acks, a
 * reset after N events, a late (or no) ConsumerEventStart, refusing the
 * stream id, raw bytes or odd messages instead of an ack.
 */
import * as grpc from "@grpc/grpc-js";
import { EVENT_CONSUMER_SERVICE, grpcService } from "../../hosts/grpc/protocol.js";
import { serverCredentials, type ServerTlsFiles } from "../../hosts/grpc/tls.js";
import type { ConsumeEventIn, ConsumerEventInit, Event, FilteredEvent } from "../../hosts/grpc/messages.js";

export interface ReceivedEvent {
  /** Which stream (1, 2, ...) carried it. */
  stream: number;
  kind: "event" | "filtered_event";
  persistenceId: string;
  seqNr: number;
  message: Event | FilteredEvent;
}

export interface FakeEventConsumerOptions {
  /** 0 (default) for an ephemeral port; a port to come back on after a restart. */
  port?: number;
  tls?: ServerTlsFiles;
  acceptedStreamIds?: readonly string[];
}

type ServerCall = grpc.ServerDuplexStream<ConsumeEventIn, unknown>;

interface StreamState {
  id: number;
  call: ServerCall;
  received: number;
  unacked: number;
  held: ReceivedEvent[];
  startSent: boolean;
}

export function keyOf(persistenceId: string, seqNr: number): string {
  return `${persistenceId}#${seqNr}`;
}

export class FakeEventConsumer {
  readonly port: number;
  readonly inits: ConsumerEventInit[] = [];
  readonly events: ReceivedEvent[] = [];
  readonly acked = new Set<string>();
  keepAlives = 0;
  /** Events that came before this server wrote ConsumerEventStart on their stream: a protocol violation. */
  eventsBeforeStart = 0;
  streamsOpened = 0;
  /** Most events received and not yet acked on one stream at any moment. */
  maxUnacked = 0;
  /** false: acks are held until releaseAcks(). */
  autoAck = true;
  /** With autoAck: each ack is written this long after its event arrived (a slow cloud); acks due on a stream that has gone are dropped. */
  ackDelayMs = 0;
  /** Reset the next stream that reaches this many events (once), with INTERNAL. */
  resetAfterEvents: number | null = null;
  /** Delay ConsumerEventStart by this long; null: never send it. */
  startDelayMs: number | null = 0;
  readonly #server: grpc.Server;
  readonly #streams = new Set<StreamState>();
  readonly #accepted: readonly string[];

  private constructor(server: grpc.Server, port: number, accepted: readonly string[]) {
    this.#server = server;
    this.port = port;
    this.#accepted = accepted;
  }

  static async start(options: FakeEventConsumerOptions = {}): Promise<FakeEventConsumer> {
    const server = new grpc.Server();
    const definition = grpcService(EVENT_CONSUMER_SERVICE).service;
    const method = definition.ConsumeEvent;
    // A Buffer goes out as is: how the tests send bytes that are no ConsumeEventOut.
    const raw = { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : method.responseSerialize(value)) };
    let fake: FakeEventConsumer | undefined;
    server.addService({ ...definition, ConsumeEvent: raw }, { ConsumeEvent: (call: ServerCall) => fake!.#serve(call) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${options.port ?? 0}`, serverCredentials(options.tls), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    fake = new FakeEventConsumer(server, port, options.acceptedStreamIds ?? ["temperature-events"]);
    return fake;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Events received on the open streams and not yet acked (autoAck off). */
  get held(): number {
    let n = 0;
    for (const stream of this.#streams) n += stream.held.length;
    return n;
  }

  /** Acks up to `count` held events (all by default), oldest first, on their own streams. */
  releaseAcks(count = Infinity): void {
    for (const stream of this.#streams) {
      while (count > 0 && stream.held.length > 0) {
        this.#ack(stream, stream.held.shift()!);
        count--;
      }
    }
  }

  /** Writes `message` (an object, or raw bytes) on every open stream. */
  sendToAll(message: unknown): void {
    for (const stream of this.#streams) stream.call.write(message);
  }

  async close(): Promise<void> {
    this.#server.forceShutdown();
    this.#streams.clear();
  }

  #serve(call: ServerCall): void {
    const stream: StreamState = { id: ++this.streamsOpened, call, received: 0, unacked: 0, held: [], startSent: false };
    let initialized = false;
    call.on("data", (message: ConsumeEventIn) => {
      if (!initialized) {
        initialized = true;
        if (message.message !== "init") {
          call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "first message must be init" });
        } else if (!this.#accepted.includes(message.init.stream_id)) {
          this.inits.push(message.init);
          call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: `Events for stream id [${message.init.stream_id}] not accepted by this consumer` });
        } else {
          this.inits.push(message.init);
          this.#streams.add(stream);
          if (this.startDelayMs !== null) setTimeout(() => this.#start(stream), this.startDelayMs);
        }
        return;
      }
      if (message.message === "keep_alive") {
        this.keepAlives++;
        return;
      }
      const body = message.message === "event" ? message.event : message.message === "filtered_event" ? message.filtered_event : null;
      if (body === null) return;
      const received: ReceivedEvent = { stream: stream.id, kind: message.message as ReceivedEvent["kind"], persistenceId: body.persistence_id, seqNr: Number(body.seq_nr), message: body };
      this.events.push(received);
      if (!stream.startSent) this.eventsBeforeStart++;
      stream.received++;
      stream.unacked++;
      this.maxUnacked = Math.max(this.maxUnacked, stream.unacked);
      if (this.resetAfterEvents !== null && stream.received >= this.resetAfterEvents) {
        this.resetAfterEvents = null;
        this.#streams.delete(stream);
        call.emit("error", { code: grpc.status.INTERNAL, details: "event writer failed (test)" });
      } else if (this.autoAck && this.ackDelayMs > 0) {
        setTimeout(() => {
          if (this.#streams.has(stream)) this.#ack(stream, received);
        }, this.ackDelayMs);
      } else if (this.autoAck) this.#ack(stream, received);
      else stream.held.push(received);
    });
    call.on("end", () => {
      this.#streams.delete(stream);
      call.end();
    });
    call.on("error", () => this.#streams.delete(stream));
    call.on("cancelled", () => this.#streams.delete(stream));
  }

  #start(stream: StreamState): void {
    if (!this.#streams.has(stream)) return;
    stream.startSent = true;
    stream.call.write({ start: { filter: [] } });
  }

  #ack(stream: StreamState, event: ReceivedEvent): void {
    stream.unacked--;
    this.acked.add(keyOf(event.persistenceId, event.seqNr));
    stream.call.write({ ack: { persistence_id: event.persistenceId, seq_nr: event.seqNr } });
  }
}
