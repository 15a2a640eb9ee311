/*
 * grpc-js clients of the stand-in built from its own protos, for tests that
 * drive it directly or register sensors at a stand-in running as a process.
 */
import * as grpc from "@grpc/grpc-js";
import { standinServices } from "./protos.js";
import type {
  ConsumeEventIn, ConsumeEventOut, CurrentTemperature, EventTimestampResponse, LoadEventResponse, StreamIn, StreamOut,
} from "./wire.js";

type Unary<Req, Res> = (request: Req, callback: (error: grpc.ServiceError | null, response: Res) => void) => grpc.ClientUnaryCall;

export interface StandinClients {
  eventsBySlices(): grpc.ClientDuplexStream<StreamIn, StreamOut>;
  consumeEvent(): grpc.ClientDuplexStream<ConsumeEventIn, ConsumeEventOut>;
  loadEvent(streamId: string, persistenceId: string, seqNr: number): Promise<LoadEventResponse>;
  eventTimestamp(streamId: string, persistenceId: string, seqNr: number): Promise<EventTimestampResponse>;
  register(sensorEntityId: string, secret: string): Promise<void>;
  getTemperature(sensorEntityId: string): Promise<CurrentTemperature>;
  close(): void;
}

function promised<Req, Res>(client: grpc.Client, method: string, request: Req): Promise<Res> {
  const call = (client as unknown as Record<string, Unary<Req, Res>>)[method].bind(client);
  return new Promise((resolve, reject) => call(request, (error, response) => (error ? reject(error) : resolve(response))));
}

export function standinClients(port: number, credentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): StandinClients {
  const services = standinServices();
  const address = `127.0.0.1:${port}`;
  const producer = new services.EventProducerService(address, credentials, options);
  const consumer = new services.EventConsumerService(address, credentials, options);
  const registration = new services.RegistrationService(address, credentials, options);
  const twin = new services.SensorTwinService(address, credentials, options);
  const stream = (client: grpc.Client, method: string) => (client as unknown as Record<string, () => unknown>)[method].call(client);
  return {
    eventsBySlices: () => stream(producer, "EventsBySlices") as grpc.ClientDuplexStream<StreamIn, StreamOut>,
    consumeEvent: () => stream(consumer, "ConsumeEvent") as grpc.ClientDuplexStream<ConsumeEventIn, ConsumeEventOut>,
    loadEvent: (stream_id, persistence_id, seq_nr) => promised(producer, "LoadEvent", { stream_id, persistence_id, seq_nr }),
    eventTimestamp: (stream_id, persistence_id, seq_nr) => promised(producer, "EventTimestamp", { stream_id, persistence_id, seq_nr }),
    register: async (sensor_entity_id, secret) => void (await promised(registration, "Register", { sensor_entity_id, secret })),
    getTemperature: (sensor_entity_id) => promised(twin, "GetTemperature", { sensor_entity_id }),
    close: () => [producer, consumer, registration, twin].forEach((client) => client.close()),
  };
}
