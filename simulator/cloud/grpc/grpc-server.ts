/*
 * The reference cloud's gRPC port, as the Akka sample's cloud service has
 * it: EventProducerService (registrations and relayed observations out),
 * EventConsumerService (gateways' observations in),
 * RegistrationService.Register and SensorTwinService.GetTemperature, on one
 * HTTP/2 listener, plaintext or TLS (with a CA: client certificates
 * required). Every call needs a credential (grpc-access.ts): a bearer token
 * in its `authorization` metadata, or, with a CA, a verified client
 * certificate, which counts as a gateway's.
 */
import * as grpc from "@grpc/grpc-js";
import type { RegisterRequest } from "../../../hosts/grpc/messages.js";
import { EVENT_CONSUMER_SERVICE, EVENT_PRODUCER_SERVICE, grpcService, REGISTRATION_SERVICE, SENSOR_TWIN_SERVICE } from "../../../hosts/grpc/protocol.js";
import { serverCredentials, type ServerTlsFiles } from "../../../hosts/grpc/tls.js";
import type { Logger } from "../../../hosts/log/logger.js";
import type { CloudObservation, CloudStore, SensorInfo } from "../cloud-store.js";
import { parseRegistration, ValidationError } from "../validate.js";
import { consumerService } from "./consumer-service.js";
import { REGISTRATION_STREAM, TEMPERATURE_STREAM } from "./event-journal.js";
import { emptyGrpcStats, type CloudGrpcStats } from "./grpc-stats.js";
import { statusError } from "./grpc-status.js";
import { producerService } from "./producer-service.js";
import type { CloudAccess } from "../access.js";
import { accessInterceptor, refusalFor, type Caller } from "./grpc-access.js";

/** The JVM sample's gRPC port. */
export const DEFAULT_CLOUD_GRPC_PORT = 8101;

export interface CloudGrpcOptions {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  tls?: ServerTlsFiles;
  access: CloudAccess;
  acceptedStreams: readonly string[];
  store: CloudStore;
  logger: Logger;
  /** A sensor registered over gRPC (the HTTP side's feeds must hear of it). */
  onRegistered(sensor: SensorInfo): void;
  /** Observations newly stored from ConsumeEvent. */
  onStored(stored: CloudObservation[]): void;
}

export interface CloudGrpcServer {
  readonly port: number;
  stats(): CloudGrpcStats;
  /** New registrations / observations were stored: live EventsBySlices subscribers send them. */
  registrationsChanged(): void;
  observationsChanged(): void;
  close(): Promise<void>;
}

export async function startCloudGrpc(options: CloudGrpcOptions): Promise<CloudGrpcServer> {
  const { store, logger: log } = options;
  const stats = emptyGrpcStats();
  const clientCertificates = options.tls?.caFile !== undefined;
  const authorize = (action: Parameters<typeof refusalFor>[1], call: Caller, what: string) => refusalFor(options.access, action, call, what, clientCertificates);
  const producer = producerService(store.journal, stats, log, authorize);
  const consumer = consumerService(store, options.acceptedStreams, stats, log, options.onStored);
  const server = new grpc.Server({ interceptors: [accessInterceptor(options.access, clientCertificates)] });
  server.addService(grpcService(EVENT_PRODUCER_SERVICE).service, producer.implementation);
  server.addService(grpcService(EVENT_CONSUMER_SERVICE).service, consumer.implementation);
  server.addService(grpcService(REGISTRATION_SERVICE).service, {
    async Register(call: grpc.ServerUnaryCall<RegisterRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
      try {
        const registration = parseRegistration({ sensorId: call.request.sensor_entity_id, secret: call.request.secret });
        const { sensor, created } = store.register(registration, Date.now());
        // Answered once durable (cloud-store.ts).
        await store.sync();
        stats.registrations++;
        log.info(`sensor ${created ? "registered" : "re-registered"} over gRPC: ${sensor.sensorId}`, { ...sensor });
        callback(null, {});
        options.onRegistered(sensor);
      } catch (error) {
        if (!(error instanceof ValidationError)) {
          log.error("Register failed", { error });
          return callback(statusError(grpc.status.INTERNAL, `registration failed: ${(error as Error).message}`));
        }
        stats.callsRefused++;
        callback(statusError(grpc.status.INVALID_ARGUMENT, error.message.replace(/^sensorId/, "sensor_entity_id")));
      }
    },
  });
  server.addService(grpcService(SENSOR_TWIN_SERVICE).service, {
    GetTemperature(call: grpc.ServerUnaryCall<{ sensor_entity_id: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const sensorId = call.request.sensor_entity_id;
      const latest = store.latestReading(sensorId, "temperature");
      if (latest === undefined) return callback(statusError(grpc.status.NOT_FOUND, `no temperature of sensor "${sensorId}"`));
      callback(null, { sensor_entity_id: sensorId, temperature: Math.round(latest.value) });
    },
  });

  const credentials = serverCredentials(options.tls, "cloud gRPC TLS");
  const address = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
  log.info(`cloud gRPC listening on ${options.host}:${port}${options.tls ? (options.tls.caFile ? " (TLS, client certificates required)" : " (TLS)") : ""}`, {
    acceptedStreams: options.acceptedStreams,
  });

  let closing: Promise<void> | undefined;
  return {
    port,
    stats: () => structuredClone(stats),
    registrationsChanged: () => producer.wake(REGISTRATION_STREAM),
    observationsChanged: () => producer.wake(TEMPERATURE_STREAM),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        producer.closeAll();
        // Open streams never end on their own; cancelling them is what a restart looks like to a client.
        server.forceShutdown();
        resolve();
      })),
  };
}
