/*
 * gRPC clients of the reference cloud for tests, built from hosts/grpc:
 * an EventsBySlices subscriber and a ConsumeEvent producer that collect
 * what the cloud sends and the call's final status, and event builders.
 * They present an admin token unless told another (null: none).
 */
import * as grpc from "@grpc/grpc-js";
import type { ConsumeEventOut, EventIn, OffsetIn, StreamIn, StreamOut } from "../../hosts/grpc/messages.js";
import { OBSERVATION_RECORDED, packAny, TEMPERATURE_READ } from "../../hosts/grpc/payload.js";
import { persistenceIdOf, sliceOf } from "../../hosts/grpc/persistence-id.js";
import { EVENT_CONSUMER_SERVICE, EVENT_PRODUCER_SERVICE, grpcService, REGISTRATION_SERVICE, SENSOR_TWIN_SERVICE } from "../../hosts/grpc/protocol.js";
import { timestampFromMillis } from "../../hosts/grpc/timestamp.js";
import { WAIT_MS, waitFor, within } from "./test-helpers.js";
import { ADMIN_TOKEN } from "./cloud-access.js";
import { tokenOptions } from "../../hosts/grpc/bearer-interceptor.js";

export interface Clients {
  producer: grpc.Client & Record<string, any>;
  consumer: grpc.Client & Record<string, any>;
  registration: grpc.Client & Record<string, any>;
  twin: grpc.Client & Record<string, any>;
  close(): void;
}

export function cloudClients(target: string, credentials = grpc.credentials.createInsecure(), token: string | null = ADMIN_TOKEN): Clients {
  const make = (name: string) => new (grpcService(name))(target, credentials, tokenOptions(token ?? undefined)) as grpc.Client & Record<string, any>;
  const clients = { producer: make(EVENT_PRODUCER_SERVICE), consumer: make(EVENT_CONSUMER_SERVICE), registration: make(REGISTRATION_SERVICE), twin: make(SENSOR_TWIN_SERVICE) };
  return { ...clients, close: () => Object.values(clients).forEach((c) => c.close()) };
}

/** A unary call as a promise; rejects with the ServiceError. */
export function unary<T>(client: Record<string, any>, method: string, request: unknown): Promise<T> {
  return within(`${method} answer`, new Promise<T>((resolve, reject) => client[method](request, (error: grpc.ServiceError | null, answer: T) => (error ? reject(error) : resolve(answer)))));
}

export function register(clients: Clients, sensorId: string, secret: string): Promise<unknown> {
  return unary(clients.registration, "Register", { sensor_entity_id: sensorId, secret });
}

/** Collects a streaming call's messages and its final status. */
class Collected<Out> {
  readonly messages: Out[] = [];
  status: grpc.StatusObject | undefined;
  error: grpc.ServiceError | undefined;

  constructor(readonly call: grpc.ClientDuplexStream<any, Out>) {
    call.on("data", (message: Out) => this.messages.push(message));
    call.on("status", (status: grpc.StatusObject) => (this.status = status));
    call.on("error", (error: grpc.ServiceError) => (this.error = error));
  }

  /** The first `count` messages, once they are in (bounded by `timeoutMs`). */
  async next(count: number, timeoutMs = WAIT_MS): Promise<Out[]> {
    await waitFor(() => `${count} messages (have ${this.messages.length})`, () => this.messages.length >= count || this.error, timeoutMs);
    if (this.messages.length < count) throw new Error(`stream ended: ${this.error?.message}`);
    return this.messages.slice(0, count);
  }

  /** The status the call ended with. */
  async ended(): Promise<grpc.StatusObject> {
    return waitFor("the call's status", () => this.status);
  }

  close(): void {
    this.call.cancel();
  }
}

export class EventsStream extends Collected<StreamOut> {
  static open(clients: Clients, first: StreamIn | Record<string, unknown>): EventsStream {
    const stream = new EventsStream(clients.producer.EventsBySlices());
    stream.call.write(first);
    return stream;
  }

  static init(clients: Clients, streamId: string, offset?: OffsetIn, sliceMin = 0, sliceMax = 1023): EventsStream {
    return EventsStream.open(clients, { init: { stream_id: streamId, slice_min: sliceMin, slice_max: sliceMax, offset: offset ? [offset] : [] } });
  }

  /** (persistence id, seq_nr) of the events received so far. */
  pairs(): string[] {
    return this.messages.map((m) => (m.message === "event" ? `${m.event.persistence_id}#${m.event.seq_nr}` : `filtered ${m.filtered_event.persistence_id}`));
  }
}

export class ConsumeStream extends Collected<ConsumeEventOut> {
  static open(clients: Clients, streamId = "temperature-events", originId = "test-gateway"): ConsumeStream {
    const stream = new ConsumeStream(clients.consumer.ConsumeEvent());
    stream.call.write({ init: { origin_id: originId, stream_id: streamId, fill_sequence_number_gaps: false } });
    return stream;
  }

  send(message: Record<string, unknown>): void {
    this.call.write(message);
  }

  acks(): string[] {
    return this.messages.flatMap((m) => (m.message === "ack" ? [`${m.ack.persistence_id}#${m.ack.seq_nr}`] : []));
  }

  async waitAcks(count: number): Promise<string[]> {
    await waitFor(`${count} acks (have ${this.acks().length})`, () => this.acks().length >= count || this.error);
    if (this.acks().length < count) throw new Error(`stream ended: ${this.error?.message}`);
    return this.acks();
  }
}

export function eventOf(sensorId: string, seq: number, payload: EventIn["payload"], receivedAt = 1_700_000_000_000): { event: EventIn } {
  const persistence_id = persistenceIdOf("Sensor", sensorId);
  return {
    event: {
      persistence_id, seq_nr: seq, slice: sliceOf(persistence_id), source: "", payload,
      offset: [{ timestamp: timestampFromMillis(receivedAt), seen: [{ persistence_id, seq_nr: seq }] }],
    },
  };
}

export function temperatureRead(sensorId: string, seq: number, temperature: number, receivedAt?: number): { event: EventIn } {
  return eventOf(sensorId, seq, packAny(TEMPERATURE_READ, { temperature }), receivedAt);
}

export function observationRecorded(sensorId: string, seq: number, fields: Record<string, unknown> = {}, receivedAt?: number): { event: EventIn } {
  const payload = packAny(OBSERVATION_RECORDED, {
    sensor_id: sensorId, seq, boot: 3, uptime_ms: 5000, time: timestampFromMillis(1_700_000_000_500), time_source: 1,
    readings: [{ quantity: "temperature", unit: "Cel", value: 21.37 }, { quantity: "humidity", unit: "%RH", value: 40.5 }],
    received_at: timestampFromMillis(1_700_000_000_900), ...fields,
  });
  return eventOf(sensorId, seq, payload, receivedAt);
}
