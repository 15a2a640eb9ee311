/*
 * The gateway process, wired: the store, the MQTT broker that ingests into
 * it, and the relay that forwards it to the cloud.
 */
import { createLogger, type Logger } from "../log/logger.js";
import { startBroker, type MqttBroker } from "./broker.js";
import type { CloudConnector } from "./connector.js";
import { createHttpConnector } from "./connectors/http.js";
import { Ingest, type IngestCounters } from "./ingest.js";
import { ObservationStore, type StoreCounts } from "./observation-store.js";
import { Outbox, type OutboxStats } from "./outbox.js";
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
  /** Disk cap of the store; oldest observations are evicted past it (relayed first). Default 1 GiB. */
  outboxMaxBytes?: number;
  /** Unrelayed observations above which publishes are held, unacknowledged; default 500,000. */
  outboxHighWater?: number;
  /** Held publishes are released when the unrelayed count falls below this; default 90% of high water. */
  outboxLowWater?: number;
  /** Most publishes held at once for backpressure (more are refused); default 10,000. */
  outboxMaxHeld?: number;
  /** A publish held longer is refused; default 30 s. */
  outboxMaxHoldMs?: number;
  /** Publishes per second per MQTT client id (a batch record is one); default 100, Infinity for no limit. */
  rateLimitPerSecond?: number;
  /** Publishes a client may send at once above its rate; default 200. */
  rateLimitBurst?: number;
}

export interface GatewayStats {
  ingest: IngestCounters;
  relay: RelayStats;
  /** All -1 once the gateway is closed. */
  store: StoreCounts;
  mqttClients: number;
  outbox: OutboxStats;
}

export interface Gateway {
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
    onRelayed: (count) => outbox.relayed(count),
  });
  const ingest = new Ingest({ store, logger: log.child("ingest"), now: options.now });
  const outbox = new Outbox({
    store,
    ingest,
    logger: log.child("outbox"),
    maxBytes: options.outboxMaxBytes,
    highWater: options.outboxHighWater,
    lowWater: options.outboxLowWater,
    maxHeld: options.outboxMaxHeld,
    maxHoldMs: options.outboxMaxHoldMs,
    rateLimitPerSecond: options.rateLimitPerSecond,
    rateLimitBurst: options.rateLimitBurst,
    onStored: () => relay.wake(),
  });
  let broker: MqttBroker;
  try {
    broker = await startBroker({
      host: options.mqttHost ?? "127.0.0.1",
      port: options.mqttPort ?? DEFAULT_MQTT_PORT,
      ingest: outbox,
      logger: log.child("mqtt"),
    });
  } catch (e) {
    store.close();
    await ownConnector?.close();
    throw e;
  }
  relay.start();
  log.info("gateway started", { mqtt: `${broker.host}:${broker.port}`, store: store.path, cloud: connector.name });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    broker.stopAccepting();
    await relay.close();
    outbox.close();
    await ownConnector?.close();
    await broker.close();
    store.close();
    log.info("gateway stopped");
  }

  return {
    mqttHost: broker.host,
    mqttPort: broker.port,
    store,
    stats: () => ({
      ingest: ingest.counters(),
      relay: relay.stats(),
      store: store.isOpen ? store.counts() : { observations: -1, unrelayed: -1, untimed: -1, anchors: -1, rejected: -1 },
      mqttClients: broker.connectedClients(),
      outbox: outbox.stats(),
    }),
    close: () => (closing ??= close()),
  };
}
