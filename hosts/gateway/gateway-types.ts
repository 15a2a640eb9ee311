/*
 * What startGateway takes and what it returns: the gateway's options, its
 * stats snapshot and its handle. Kept apart from gateway.ts, which wires
 * the parts together.
 */
import type { StreamLimits } from "./api/observation-stream.js";
import type { ApiStats } from "./api/server.js";
import type { ApiAccessOptions } from "./api/api-access.js";
import type { AuthCounters } from "./ingest/device-auth.js";
import type { DeviceDownlink } from "./ingest/downlink.js";
import type { ListenerLimits } from "./ingest/listener-limits.js";
import type { ListenerStats } from "./ingest/listener-stats.js";
import type { LoginThrottleLimits } from "./ingest/login-throttle.js";
import type { MqttTlsOptions } from "./ingest/mqtt-tls.js";
import type { RegistrationFeedStats } from "./registrations/feed.js";
import type { CloudConnector } from "./relay/connector.js";
import type { CloudLinkOptions, RegistrationLinkOptions } from "./cloud-link.js";
import type { ExternalBrokerOptions, ExternalBrokerStats } from "./ingest/external-broker.js";
import type { IngestCounters } from "./ingest/ingest.js";
import type { ObservationStore, StoreCounts } from "./store/observation-store.js";
import type { OutboxStats } from "./ingest/outbox.js";
import type { RelayStats } from "./relay/relay.js";
import type { SensorRegistry } from "./ingest/sensor-registry.js";
import type { UdpCounters } from "./ingest/udp/udp-ingest.js";
import type { SourceLimitOptions } from "./ingest/udp/source-limit.js";
import type { Logger } from "../log/logger.js";
import type { RuleEngine, RulesStats } from "./rules/rule-engine.js";
import type { RulesSettings } from "./rules/rules-service.js";
import type { SinkStats } from "./rules/alerts/alert-dispatch.js";
import type { DispatcherStats } from "./downlink/dispatcher.js";

export interface GatewayOptions {
  /** Interface the MQTT listener binds; default 127.0.0.1 (devices on the LAN need 0.0.0.0). */
  mqttHost?: string;
  /** Default 1883; 0 picks an ephemeral port (see Gateway.mqttPort); null: no plain listener (TLS only). */
  mqttPort?: number | null;
  /** Directory holding the SQLite store; created if missing. */
  dataDir: string;
  /** How the relay reaches the cloud; default Akka gRPC to DEFAULT_CLOUD_TARGET. Ignored when `connector` is given. */
  cloudLink?: CloudLinkOptions;
  /** Shorthand for cloudLink {transport: "http", url}. */
  cloudUrl?: string;
  /** Used instead of a connector made from cloudLink; the caller keeps it and closes it. */
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
   * ingest/sensor-registry.ts. When given it is used as is and no registration feed
   * runs; otherwise the gateway follows the cloud's registration stream into
   * registrations.db in dataDir.
   */
  registry?: SensorRegistry;
  /** Where registrations come from; default: the cloud link's (see cloud-link.ts defaultRegistrationLink). */
  registrationLink?: RegistrationLinkOptions;
  /** Shorthand for registrationLink {transport: "http", url}. */
  registrationUrl?: string;
  registrationRetryInitialMs?: number;
  registrationRetryMaxMs?: number;
  /** A second MQTT listener for devices, over TLS. */
  mqttTls?: MqttTlsOptions;
  /** The device listener's limits (packet size, CONNECT deadline, connection caps, in flight); ingest/listener-limits.ts has the defaults. */
  mqttLimits?: Partial<ListenerLimits>;
  /** How failed device logins are slowed and then refused; ingest/login-throttle.ts has the defaults. */
  mqttLoginThrottle?: Partial<LoginThrottleLimits>;
  /**
   * Ingest from this broker (e.g. mosquitto) instead of the embedded one,
   * which is then not started (mqttPort is null); see ingest/external-broker.ts.
   */
  externalBroker?: ExternalBrokerOptions;
  /** Interface the UDP listener binds; default 127.0.0.1. */
  udpHost?: string;
  /** UDP observations (Postcard or our CBOR records, see ingest/udp/datagram.ts); absent: no UDP. 0 picks an ephemeral port. */
  udpPort?: number;
  /** Per-source-address allowance of UDP datagrams; ingest/udp/source-limit.ts DEFAULT_SOURCE_LIMIT by default. */
  udpSourceLimit?: SourceLimitOptions;
  /** Interface the HTTP API and dashboard bind; default 127.0.0.1. Any other needs httpAccess tokens, a client CA, or public. */
  httpHost?: string;
  /** The API's credentials and TLS (api/api-access.ts); none by default, which only loopback allows. */
  httpAccess?: ApiAccessOptions;
  /** Caps on the API's event streams; api/observation-stream.ts DEFAULT_STREAM_LIMITS for what is not given. */
  sseLimits?: Partial<StreamLimits>;
  /** Default DEFAULT_HTTP_PORT; 0 picks an ephemeral port (see Gateway.httpPort); null: no HTTP API. */
  httpPort?: number | null;
  /** /healthz fails once the relay has failed this long; default RELAY_FAILING_THRESHOLD_MS (api/health.ts). */
  relayFailingThresholdMs?: number;
  /** An SSE client whose data has not drained this long is disconnected; default SSE_STALL_MS (hosts/http/sse.ts). */
  sseStallMs?: number;
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
  /** Gateway rules (rules/): their workers, limits and alert sinks; null: no rules at all. */
  rules?: RulesSettings | null;
}

/** The registration projection and its feed; see registrations/feed.ts. */
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
  /** Devices connected to the embedded broker; 0 with an external broker. */
  mqttClients: number;
  /** Null when the caller gave the registry (no feed runs). */
  registration: RegistrationStats | null;
  auth: AuthCounters;
  /** The embedded device listener's connections and refusals; absent with an external broker. */
  mqtt?: ListenerStats;
  outbox: OutboxStats;
  /** Absent when UDP is off. */
  udp?: UdpCounters;
  http: ApiStats;
  /** Only with an external broker. */
  externalBroker?: ExternalBrokerStats;
  /** Messages to devices and their states; only with the embedded broker. */
  downlinks?: DispatcherStats & { requests: Record<string, number> };
  /** The cloud transport's own counters (streams, acks, timeouts); absent for HTTP and a given connector. */
  cloudLink?: object;
  /** Absent when rules are off. */
  rules?: RulesStats;
  alertSinks?: Record<string, SinkStats>;
}

export interface Gateway {
  /** "" and -1 when ingesting from an external broker: the gateway listens for no device. */
  /** Null with an external broker: the gateway then listens for no device. */
  readonly mqttHost: string | null;
  /** Null when there is no plain listener (TLS only, or an external broker). */
  readonly mqttPort: number | null;
  /** The TLS listener's port, when mqttTls was given. */
  readonly mqttTlsPort: number | undefined;
  /** Messages to devices and their reports (ingest/downlink.ts); null with an external broker. */
  readonly downlink: DeviceDownlink | null;
  /** Who may connect: the given registry or the registration projection. */
  readonly registry: SensorRegistry;
  /** The UDP port really bound; undefined when UDP is off. */
  readonly udpPort?: number;
  /** The HTTP API's port; null when it is off. */
  readonly httpPort: number | null;
  readonly store: ObservationStore;
  /** Undefined when rules are off. */
  readonly rules: RuleEngine | undefined;
  stats(): GatewayStats;
  /** Stops accepting, drains the relay's request in flight, then closes the broker and the store. Idempotent. */
  close(): Promise<void>;
  /** While close() runs: the step it is waiting for. */
  stillRunning(): string[];
}
