/*
 * The gateway process, wired: the store, the MQTT broker that ingests into
 * it, and the relay that forwards it to the cloud.
 */
import { createLogger, type Logger } from "../log/logger.js";
import { startBroker, type MqttBroker } from "./broker.js";
import type { CloudConnector } from "./connector.js";
import { createHttpConnector } from "./connectors/http.js";
import { startExternalIngest, type ExternalBrokerOptions, type ExternalBrokerStats, type ExternalIngest } from "./external-broker.js";
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
  /** The sensors it accepts (username = sensor id, password = secret); see sensor-registry.ts. */
  registry?: SensorRegistry;
  /**
   * Ingest from this broker (e.g. mosquitto) instead of the embedded one,
   * which is then not started (mqttPort is -1); see external-broker.ts.
   */
  externalBroker?: ExternalBrokerOptions;
}

export interface GatewayStats {
  ingest: IngestCounters;
  relay: RelayStats;
  /** All -1 once the gateway is closed. */
  store: StoreCounts;
  /** Devices connected to the embedded broker; 0 with an external broker. */
  mqttClients: number;
  /** Only with an external broker. */
  externalBroker?: ExternalBrokerStats;
}

export interface Gateway {
  /** "" and -1 when ingesting from an external broker: the gateway listens for no device. */
  readonly mqttHost: string;
  readonly mqttPort: number;
  readonly store: ObservationStore;
  stats(): GatewayStats;
  /** Stops accepting, drains the relay's request in flight, then closes the broker and the store. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_MQTT_PORT = 1883;
export const DEFAULT_CLOUD_URL = "http://127.0.0.1:8101";

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.logger ?? createLogger({ component: "gateway" });
  const store = ObservationStore.open(options.dataDir);
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
  let broker: MqttBroker | undefined;
  let external: ExternalIngest | undefined;
  try {
    if (options.externalBroker) {
      external = startExternalIngest({
        broker: options.externalBroker,
        ingest,
        store,
        registry: options.registry,
        logger: log.child("external-mqtt"),
        now: options.now,
        onStored: () => relay.wake(),
      });
    } else broker = await startBroker({
      host: options.mqttHost ?? "127.0.0.1",
      port: options.mqttPort ?? DEFAULT_MQTT_PORT,
      ingest,
      logger: log.child("mqtt"),
      onStored: () => relay.wake(),
    });
  } catch (e) {
    store.close();
    await ownConnector?.close();
    throw e;
  }
  relay.start();
  const mqtt = broker ? `${broker.host}:${broker.port}` : external?.stats().url;
  log.info("gateway started", { mqtt, store: store.path, cloud: connector.name });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    broker?.stopAccepting();
    await external?.close();
    await relay.close();
    await ownConnector?.close();
    await broker?.close();
    store.close();
    log.info("gateway stopped");
  }

  return {
    mqttHost: broker?.host ?? "",
    mqttPort: broker?.port ?? -1,
    store,
    stats: () => ({
      ingest: ingest.counters(),
      relay: relay.stats(),
      store: store.isOpen ? store.counts() : { observations: -1, unrelayed: -1, untimed: -1, anchors: -1, rejected: -1 },
      mqttClients: broker?.connectedClients() ?? 0,
      ...(external ? { externalBroker: external.stats() } : {}),
    }),
    close: () => (closing ??= close()),
  };
}
