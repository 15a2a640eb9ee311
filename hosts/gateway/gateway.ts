/*
 * The gateway process, wired: the store, the MQTT broker (and optionally
 * UDP) that ingests into it through the outbox, the relay that forwards it
 * to the cloud, the registrations that say which devices may connect (a
 * projection of the cloud's registration stream, unless the caller gives a
 * registry), and the local HTTP API.
 */
import { createLogger } from "../log/logger.js";
import { RelayFailureClock, watchConnector, type RegistrationStreamHealth } from "./api/health.js";
import { DEFAULT_HTTP_PORT, idleApiStats, startApiServer, type ApiServer } from "./api/server.js";
import { startDeviceListener, type DeviceListener } from "./ingest/device-listener.js";
import { RegistrationProjection } from "./registrations/projection.js";
import type { CloudConnector } from "./relay/connector.js";
import {
  DEFAULT_CLOUD_TARGET, defaultRegistrationLink, openCloudLink, openRegistrationSource,
  type CloudLinkOptions, type OpenedCloudLink, type RegistrationLinkOptions,
} from "./cloud-link.js";
import type { RegistrationSource } from "./registrations/source.js";
import { startExternalIngest, type ExternalIngest } from "./ingest/external-broker.js";
import type { Gateway, GatewayOptions, GatewayStats } from "./gateway-types.js";
import { Ingest } from "./ingest/ingest.js";
import { ObservationStore } from "./store/observation-store.js";
import { Outbox } from "./ingest/outbox.js";
import { Relay } from "./relay/relay.js";
import type { SensorRegistry } from "./ingest/sensor-registry.js";
import { startUdpIngest, type UdpIngest } from "./ingest/udp/udp-ingest.js";
import { startRules, type StartedRules } from "./rules/rules-service.js";
import { PendingStore } from "./downlink/pending-store.js";
import { DownlinkDispatcher } from "./downlink/dispatcher.js";

export type { Gateway, GatewayOptions, GatewayStats, RegistrationStats } from "./gateway-types.js";

export const DEFAULT_MQTT_PORT = 1883;

/** What /healthz shows of the registration source: the Akka consumer's stream state (the SSE feed has none). */
function registrationStreamHealth(stats: object | undefined): RegistrationStreamHealth | null {
  if (stats === undefined || !("state" in stats) || !("downForMs" in stats)) return null;
  const s = stats as RegistrationStreamHealth;
  return { state: s.state, streamAgeMs: s.streamAgeMs, idleMs: s.idleMs, downForMs: s.downForMs, lastError: s.lastError };
}
export { DEFAULT_HTTP_PORT };

/** The cloud link the options ask for: cloudLink, else cloudUrl's HTTP, else Akka gRPC on this host. */
function cloudLinkOf(options: GatewayOptions): CloudLinkOptions {
  if (options.cloudLink) return options.cloudLink;
  if (options.cloudUrl !== undefined) return { transport: "http", url: options.cloudUrl };
  return { transport: "akka-grpc", target: DEFAULT_CLOUD_TARGET };
}

function registrationLinkOf(options: GatewayOptions): RegistrationLinkOptions {
  if (options.registrationLink) return options.registrationLink;
  if (options.registrationUrl !== undefined) return { transport: "http", url: options.registrationUrl };
  return defaultRegistrationLink(cloudLinkOf(options));
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.logger ?? createLogger({ component: "gateway" });
  const now = options.now ?? Date.now;
  // What has been started so far, undone in reverse if a later part fails to start.
  const undo: Array<() => unknown> = [];
  const store = ObservationStore.open(options.dataDir, log.child("store"));
  undo.push(() => store.close());
  let projection: RegistrationProjection | undefined;
  try {
    projection = options.registry ? undefined : RegistrationProjection.open(options.dataDir);
  } catch (e) {
    store.close();
    throw e;
  }
  const ownProjection = projection;
  if (ownProjection) undo.push(() => ownProjection.close());
  const registry: SensorRegistry = options.registry ?? (projection as RegistrationProjection);
  let cloudLink: OpenedCloudLink | undefined;
  try {
    cloudLink = options.connector ? undefined : openCloudLink(cloudLinkOf(options), log.child("cloud"));
  } catch (e) {
    for (const step of undo.reverse()) await step();
    throw e;
  }
  const ownConnector = cloudLink?.connector;
  if (ownConnector) undo.push(() => ownConnector.close());
  const connector = options.connector ?? (ownConnector as CloudConnector);
  const relayFailures = new RelayFailureClock();
  let api: ApiServer | undefined;
  let rules: StartedRules | undefined;
  try {
    rules = options.rules === null ? undefined : startRules({
      options: options.rules ?? {},
      store,
      registry,
      logger: log.child("rules"),
      now,
      onCommitted: ({ derived, keptLocal, alerts }) => {
        if (keptLocal > 0) outbox.relayed();
        relay.wake();
        if (derived > 0) api?.stored();
        if (alerts > 0) api?.alertsStored();
      },
    });
  } catch (e) {
    for (const step of undo.reverse()) await step();
    throw e;
  }
  const ownRules = rules;
  if (ownRules) undo.push(() => ownRules.close());
  const relay = new Relay({
    store,
    connector: watchConnector(connector, relayFailures, now),
    logger: log.child("relay"),
    batchSize: options.relayBatchSize,
    intervalMs: options.relayIntervalMs,
    retryInitialMs: options.relayRetryInitialMs,
    retryMaxMs: options.relayRetryMaxMs,
    onRelayed: () => outbox.relayed(),
    gate: rules?.engine.verdicts,
  });
  const ingest = new Ingest({ store, logger: log.child("ingest"), now: options.now });
  const onStored = () => {
    relay.wake();
    api?.stored();
    rules?.engine.stored();
  };
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
    onStored,
  });
  let broker: DeviceListener | undefined;
  let external: ExternalIngest | undefined;
  let feed: RegistrationSource | undefined;
  let udp: UdpIngest | undefined;
  let downlinks: DownlinkDispatcher | undefined;
  let pending: PendingStore | undefined;
  let mqttListening = true;
  const stats = (): GatewayStats => ({
    ingest: ingest.counters(),
    relay: relay.stats(),
    store: store.isOpen ? store.counts() : { observations: -1, unrelayed: -1, untimed: -1, anchors: -1, rejected: -1 },
    mqttClients: broker?.connectedClients() ?? 0,
    registration: projection && feed ? { sensors: projection.size, offset: projection.offset(), ...feed.stats() } : null,
    auth: broker?.authCounters() ?? { accepted: 0, unregistered: 0, badSecret: 0, wrongSensor: 0, tlsFailed: 0 },
    ...(broker ? { mqtt: broker.stats() } : {}),
    outbox: outbox.stats(),
    udp: udp?.counters(),
    http: api?.stats() ?? idleApiStats(),
    ...(rules ? { rules: rules.engine.stats(), alertSinks: rules.alerts.stats() } : {}),
    ...(downlinks && pending?.isOpen ? { downlinks: downlinks.stats() } : {}),
    ...(external ? { externalBroker: external.stats() } : {}),
    ...(cloudLink?.stats ? { cloudLink: cloudLink.stats() } : {}),
  });
  try {
    if (options.externalBroker) {
      const started = startExternalIngest({
        broker: options.externalBroker,
        ingest: outbox,
        store,
        registry,
        logger: log.child("external-mqtt"),
        now,
      });
      external = started;
      undo.push(() => started.close());
    } else {
      const started = await startDeviceListener({
        host: options.mqttHost ?? "127.0.0.1",
        port: options.mqttPort === undefined ? DEFAULT_MQTT_PORT : options.mqttPort,
        intake: outbox,
        registry,
        tls: options.mqttTls,
        limits: options.mqttLimits,
        loginThrottle: options.mqttLoginThrottle,
        logger: log.child("mqtt"),
        now,
      });
      broker = started;
      undo.push(() => started.close());
      // Messages to devices go through the embedded broker's sessions.
      const store = PendingStore.open(options.dataDir);
      pending = store;
      undo.push(() => store.close());
      const dispatcher = new DownlinkDispatcher({ store, downlink: started.downlink, registry, logger: log.child("downlink"), now });
      downlinks = dispatcher;
      undo.push(() => dispatcher.close());
    }
    if (options.udpPort !== undefined) {
      udp = await startUdpIngest({
        host: options.udpHost ?? "127.0.0.1",
        port: options.udpPort,
        ingest,
        store,
        // UDP carries no credentials, so registration is its only check.
        registry,
        logger: log.child("udp"),
        now,
        sourceLimit: options.udpSourceLimit,
        onStored: (count) => outbox.noteStored(count),
      });
      const started = udp;
      undo.push(() => started.close());
    }
    const httpPort = options.httpPort === undefined ? DEFAULT_HTTP_PORT : options.httpPort;
    if (httpPort !== null) {
      api = await startApiServer({
        host: options.httpHost ?? "127.0.0.1",
        port: httpPort,
        store,
        registry,
        logger: log.child("http"),
        stats,
        relay: () => relay.stats(),
        cloudLink: () => cloudLink?.stats?.(),
        relayFailingSince: () => relayFailures.failingSince,
        mqttListening: () => mqttListening,
        healthFacts: () => ({ registrationStream: registrationStreamHealth(feed?.stats()), storeCommitFailure: ingest.commitFailure() }),
        now,
        relayFailingThresholdMs: options.relayFailingThresholdMs,
        sseStallMs: options.sseStallMs,
        rules: rules?.engine,
        downlinks,
        sseLimits: options.sseLimits,
        access: options.httpAccess,
      });
    }
  } catch (e) {
    for (const step of undo.reverse()) await step();
    throw e;
  }
  if (projection) {
    try {
      feed = openRegistrationSource(registrationLinkOf(options), {
        projection,
        logger: log.child("registrations"),
        retryInitialMs: options.registrationRetryInitialMs,
        retryMaxMs: options.registrationRetryMaxMs,
      });
    } catch (e) {
      for (const step of undo.reverse()) await step();
      throw e;
    }
    feed.start();
  }
  relay.start();
  rules?.start();
  log.info("gateway started", {
    mqtt: broker ? (broker.port === null ? null : `${broker.host}:${broker.port}`) : null,
    mqttTls: broker?.tlsPort !== undefined ? `${options.mqttTls?.host ?? broker.host}:${broker.tlsPort}` : null,
    externalBroker: external ? external.stats().url : null,
    udp: udp ? `${udp.host}:${udp.port}` : null,
    http: api ? `${api.host}:${api.port}` : null,
    store: store.path,
    cloud: connector.name,
    registrations: projection ? projection.path : "given registry",
  });

  let closing: Promise<void> | undefined;
  // What close() is waiting for, so a stop that overruns its deadline can say.
  let closeStep: string | undefined;
  async function close(): Promise<void> {
    closeStep = "MQTT listener";
    broker?.stopAccepting();
    mqttListening = false;
    closeStep = "HTTP API";
    await api?.close();
    closeStep = "UDP listener";
    await udp?.close();
    closeStep = "registration feed";
    await feed?.close();
    closeStep = "external broker session";
    await external?.close();
    closeStep = "rules: deliveries in flight and their commit";
    await rules?.close();
    closeStep = `relay request in flight to ${connector.name}`;
    await relay.close();
    closeStep = "outbox commits";
    outbox.close();
    closeStep = "cloud connector";
    await ownConnector?.close();
    closeStep = "MQTT client connections";
    downlinks?.close();
    await broker?.close();
    pending?.close();
    closeStep = "store";
    store.close();
    projection?.close();
    closeStep = undefined;
    log.info("gateway stopped");
  }

  return {
    mqttHost: broker?.host ?? null,
    mqttPort: broker?.port ?? null,
    mqttTlsPort: broker?.tlsPort,
    downlink: broker?.downlink ?? null,
    registry,
    udpPort: udp?.port,
    httpPort: api?.port ?? null,
    store,
    rules: rules?.engine,
    stats,
    close: () => (closing ??= close()),
    stillRunning: () => (closeStep === undefined ? [] : [closeStep]),
  };
}
