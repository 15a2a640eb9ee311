/*
 * The gateway process, wired: the store, the MQTT broker that ingests into
 * it, the relay that forwards it to the cloud, and the registrations that
 * say which devices may connect (a projection of the cloud's registration
 * stream, unless the caller gives a registry).
 */
import { createLogger, type Logger } from "../log/logger.js";
import { startBroker, type MqttBroker } from "./broker.js";
import type { AuthCounters } from "./device-auth.js";
import type { MqttTlsOptions } from "./mqtt-tls.js";
import { RegistrationFeed, type RegistrationFeedStats } from "./registration-feed.js";
import { RegistrationProjection } from "./registration-projection.js";
import type { CloudConnector } from "./connector.js";
import { createHttpConnector } from "./connectors/http.js";
import { Ingest, type IngestCounters } from "./ingest.js";
import { ObservationStore, type StoreCounts } from "./observation-store.js";
import { Relay, type RelayStats } from "./relay.js";
import type { SensorRegistry } from "./sensor-registry.js";

export interface GatewayOptions {
  /** Interface the MQTT listener binds; default 127.0.0.1 (devices on the LAN need 0.0.0.0). */
  mqttHost?: string;
  /** Default 1883; 0 picks an ephemeral port (see Gateway.mqttPort). */
  mqttPort?: number;
  /** Directory holding the SQLite store; created if missing. */
  dataDir: string;
  /** Base URL of the cloud; ignored when `connector` is given. */
  cloudUrl?: string;
  /** Used instead of an HTTP connector to cloudUrl; the caller keeps it and closes it. */
  connector?: CloudConnector;
  logger?: Logger;
  relayBatchSize?: number;
  relayIntervalMs?: number;
  relayRetryInitialMs?: number;
  relayRetryMaxMs?: number;
  /** The gateway's clock for receive times and gateway-sourced clock anchors; Date.now by default. */
  now?: () => number;
  /**
   * The sensors it accepts (username = sensor id, password = secret); see
   * sensor-registry.ts. When given it is used as is and no registration feed
   * runs; otherwise the gateway follows the cloud's registration stream into
   * registrations.db in dataDir.
   */
  registry?: SensorRegistry;
  /** Base URL of the cloud's registration stream; default cloudUrl. */
  registrationUrl?: string;
  registrationRetryInitialMs?: number;
  registrationRetryMaxMs?: number;
  /** A second MQTT listener for devices, over TLS. */
  mqttTls?: MqttTlsOptions;
}

/** The registration projection and its feed; see registration-feed.ts. */
export interface RegistrationStats extends RegistrationFeedStats {
  /** Registered sensors the gateway knows. */
  sensors: number;
  /** The registration stream offset applied so far. */
  offset: number;
}

export interface GatewayStats {
  ingest: IngestCounters;
  relay: RelayStats;
  /** All -1 once the gateway is closed. */
  store: StoreCounts;
  mqttClients: number;
  /** Null when the caller gave the registry (no feed runs). */
  registration: RegistrationStats | null;
  auth: AuthCounters;
}

export interface Gateway {
  readonly mqttHost: string;
  readonly mqttPort: number;
  /** The TLS listener's port, when mqttTls was given. */
  readonly mqttTlsPort: number | undefined;
  readonly store: ObservationStore;
  /** Who may connect: the given registry or the registration projection. */
  readonly registry: SensorRegistry;
  stats(): GatewayStats;
  /** Stops accepting, drains the relay's request in flight, then closes the broker and the store. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_MQTT_PORT = 1883;
export const DEFAULT_CLOUD_URL = "http://127.0.0.1:8101";

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.logger ?? createLogger({ component: "gateway" });
  const store = ObservationStore.open(options.dataDir);
  let projection: RegistrationProjection | undefined;
  try {
    projection = options.registry ? undefined : RegistrationProjection.open(options.dataDir);
  } catch (e) {
    store.close();
    throw e;
  }
  const registry: SensorRegistry = options.registry ?? (projection as RegistrationProjection);
  const ownConnector = options.connector ? undefined : createHttpConnector({ url: options.cloudUrl ?? DEFAULT_CLOUD_URL });
  const connector = options.connector ?? (ownConnector as CloudConnector);
  const relay = new Relay({
    store,
    connector,
    logger: log.child("relay"),
    batchSize: options.relayBatchSize,
    intervalMs: options.relayIntervalMs,
    retryInitialMs: options.relayRetryInitialMs,
    retryMaxMs: options.relayRetryMaxMs,
  });
  const ingest = new Ingest({ store, logger: log.child("ingest"), now: options.now });
  let broker: MqttBroker;
  try {
    broker = await startBroker({
      host: options.mqttHost ?? "127.0.0.1",
      port: options.mqttPort ?? DEFAULT_MQTT_PORT,
      ingest,
      registry,
      tls: options.mqttTls,
      logger: log.child("mqtt"),
      onStored: () => relay.wake(),
    });
  } catch (e) {
    store.close();
    projection?.close();
    await ownConnector?.close();
    throw e;
  }
  const feed = projection
    ? new RegistrationFeed({
        url: options.registrationUrl ?? options.cloudUrl ?? DEFAULT_CLOUD_URL,
        projection,
        logger: log.child("registrations"),
        retryInitialMs: options.registrationRetryInitialMs,
        retryMaxMs: options.registrationRetryMaxMs,
      })
    : undefined;
  relay.start();
  feed?.start();
  log.info("gateway started", {
    mqtt: `${broker.host}:${broker.port}`,
    ...(broker.tlsPort !== undefined ? { mqttTls: `${options.mqttTls?.host ?? broker.host}:${broker.tlsPort}` } : {}),
    store: store.path,
    cloud: connector.name,
    registrations: projection ? projection.path : "given registry",
  });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    broker.stopAccepting();
    await feed?.close();
    await relay.close();
    await ownConnector?.close();
    await broker.close();
    store.close();
    projection?.close();
    log.info("gateway stopped");
  }

  return {
    mqttHost: broker.host,
    mqttPort: broker.port,
    mqttTlsPort: broker.tlsPort,
    store,
    registry,
    stats: () => ({
      ingest: ingest.counters(),
      relay: relay.stats(),
      store: store.isOpen ? store.counts() : { observations: -1, unrelayed: -1, untimed: -1, anchors: -1, rejected: -1 },
      mqttClients: broker.connectedClients(),
      registration: projection && feed ? { sensors: projection.size, offset: projection.offset(), ...feed.stats() } : null,
      auth: broker.authCounters(),
    }),
    close: () => (closing ??= close()),
  };
}
