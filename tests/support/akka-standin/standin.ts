/*
 * An independent stand-in for the Akka JVM iot-service, built only from the
 * protocol facts (/work/shared/akka-projection-grpc.md): EventProducerService
 * (registration-events), EventConsumerService (temperature-events),
 * RegistrationService and SensorTwinService on one gRPC port, state in
 * SQLite under dataDir. For pointing a gateway at in tests.
 */
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { createLogger, type Logger } from "../../../hosts/log/logger.js";
import { consumerService } from "./consumer-service.js";
import { iotServices, appendRegistration } from "./iot-services.js";
import { producerService } from "./producer-service.js";
import { standinServices } from "./protos.js";
import type { ServiceContext } from "./service-context.js";
import { StandinStore, type ConsumedEvent, type JournalEvent } from "./standin-store.js";
import { StatusError } from "./status-error.js";
import { StandinSwitches, type SwitchSettings } from "./switches.js";

/** How long open streams get to take their final status before the server is torn down. */
const SHUTDOWN_GRACE_MS = 1000;

export interface StandinTls {
  certFile: string;
  keyFile: string;
  /** With a CA, clients must present a certificate it signed. */
  caFile?: string;
}

export interface AkkaStandinOptions {
  dataDir: string;
  /** 0 (the default) for an ephemeral port. */
  port?: number;
  switches?: Partial<SwitchSettings>;
  tls?: StandinTls;
  logger?: Logger;
  /** The journal's clock, microseconds since the epoch; timestamps still increase strictly if it stalls. */
  nowUs?: () => number;
}

export interface AkkaStandin {
  readonly port: number;
  /** Fault and backtracking switches; change them at any time. */
  readonly switches: StandinSwitches;
  /** As RegistrationService.Register: appends Registered{secret} to `Registration|<id>` and pushes it to open streams. */
  register(sensorEntityId: string, secret: string): JournalEvent;
  /** Everything consumed on ConsumeEvent, once per (persistence id, seq_nr), in arrival order. */
  consumed(): ConsumedEvent[];
  /** Events received again after they were stored (acked again, not stored again). */
  readonly duplicates: number;
  counters(): Record<string, number>;
  close(): Promise<void>;
}

function credentialsOf(tls: StandinTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const ca = tls.caFile ? readFileSync(tls.caFile) : null;
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }], ca !== null);
}

export async function startAkkaStandin(options: AkkaStandinOptions): Promise<AkkaStandin> {
  const store = new StandinStore(options.dataDir);
  const switches = new StandinSwitches(options.switches);
  const logger = options.logger ?? createLogger({ component: "akka-standin", level: "warn" });
  const nowUs = options.nowUs ?? (() => Date.now() * 1000);
  const appendListeners = new Set<(event: JournalEvent) => void>();
  const openStreams = new Set<(error: StatusError) => void>();
  const context: ServiceContext = {
    store, switches, logger,
    onAppend: (listener) => (appendListeners.add(listener), () => appendListeners.delete(listener)),
    track: (end) => (openStreams.add(end), () => openStreams.delete(end)),
  };
  const register = (sensorEntityId: string, secret: string): JournalEvent => {
    const event = appendRegistration(store, sensorEntityId, secret, nowUs());
    for (const listener of [...appendListeners]) listener(event);
    return event;
  };

  const server = new grpc.Server();
  const services = standinServices();
  const iot = iotServices(store, register);
  server.addService(services.EventProducerService.service, producerService(context));
  server.addService(services.EventConsumerService.service, consumerService(context));
  server.addService(services.RegistrationService.service, iot.registration);
  server.addService(services.SensorTwinService.service, iot.sensorTwin);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentialsOf(options.tls), (error, bound) => (error ? reject(error) : resolve(bound))));
  } catch (e) {
    server.forceShutdown();
    store.close();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    switches,
    register,
    consumed: () => store.consumed(),
    get duplicates() {
      return store.counters().duplicates ?? 0;
    },
    counters: () => store.counters(),
    close() {
      closing ??= (async () => {
        for (const end of [...openStreams]) end(new StatusError("UNAVAILABLE", "the stand-in is shutting down"));
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
          server.tryShutdown(() => (clearTimeout(force), resolve()));
        });
        store.close();
      })();
      return closing;
    },
  };
}
