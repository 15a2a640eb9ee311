/*
 * Every setting of the gateway, in one table: its key path in the config
 * file, its kind, default and description. The environment variable
 * (XSEDGE_GATEWAY_MQTT_PORT) and the flag (--mqtt-port) are derived from the
 * key path, so the three ways of setting a key cannot drift apart.
 *
 * A key without a default is unset unless given: the feature it belongs to
 * keeps its own default (or stays off, as UDP does).
 */
import { DEFAULT_BATCH_SIZE, DEFAULT_RELAY_POLICY } from "../relay/relay.js";
import type { ValueKind } from "./value-kinds.js";
import { DEFAULT_CLOUD_TARGET, DEFAULT_CLOUD_URL } from "../cloud-link.js";
import { DEFAULT_WORKER_MEMORY_BYTES } from "../rules/rule-limits.js";
import { DEFAULT_VERDICT_WAIT_MS } from "../rules/relay-verdicts.js";
import { MAX_RULE_WORKERS } from "../rules/worker-pool.js";
import { DEFAULT_ALERT_TOPIC } from "../rules/alerts/mqtt-sink.js";
import { DEFAULT_SSE_MAX_BUFFERED_BYTES, DEFAULT_SSE_MAX_CLIENTS, DEFAULT_SSE_MAX_CLIENTS_PER_ADDRESS } from "../../http/sse-admission.js";
import { SSE_STALL_MS } from "../../http/sse.js";
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_PACKET_BYTES,
  DEFAULT_MAX_UNAUTHENTICATED, DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS, MAX_MAX_PACKET_BYTES, MIN_MAX_PACKET_BYTES,
} from "../ingest/listener-limits.js";
import { DEFAULT_LOGIN_DELAY_MS, DEFAULT_LOGIN_FORGET_AFTER_MS, DEFAULT_LOGIN_MAX_DELAY_MS, DEFAULT_LOGIN_MAX_FAILURES } from "../ingest/login-throttle.js";

export interface ConfigKey {
  /** Dotted path in the config file, e.g. "mqtt.tls.certFile". */
  path: string;
  kind: ValueKind;
  default?: unknown;
  /** null in a file, or "off" in an environment variable or flag, turns the feature off. */
  nullable?: boolean;
  /** Never printed, logged or echoed in an error. */
  secret?: boolean;
  /** false: no flag (a secret on the command line is visible to every user in `ps`). */
  flag?: false;
  /** Other flags that set this key (kept from earlier versions of the command). */
  aliases?: readonly string[];
  description: string;
}

export const ENV_PREFIX = "XSEDGE_GATEWAY_";
/** Names the config file, like --config; not a key of the file itself. */
export const CONFIG_FILE_ENV = `${ENV_PREFIX}CONFIG`;
/** The word that stands for null in an environment variable or a flag. */
export const OFF = "off";

// Bounds: wide enough for any real deployment, narrow enough to catch a
// unit mistake (a size in MiB typed as bytes, seconds typed as ms).
const HOUR_MS = 3_600_000;
/** 1 TiB: more than any SD card or SSD a Pi would hold the outbox on. */
const MAX_OUTBOX_BYTES = 2 ** 40;
/** 1 MiB: an outbox smaller than this holds less than a minute of one busy sensor. */
const MIN_OUTBOX_BYTES = 2 ** 20;
/** 10,000 observations: a JSON batch of about 1.5 MB, the most one cloud request should carry. */
const MAX_RELAY_BATCH = 10_000;
/** Per sensor; 10,000/s is far beyond what a device's radio can publish. */
const MAX_RATE_PER_SECOND = 10_000;
/** Events awaiting the cloud's ack: past 10,000 a lost stream means resending minutes of data. */
const MAX_IN_FLIGHT = 10_000;
/** Each event stream is woken on every commit: 10,000 of them would be the gateway's whole work. */
const MAX_SSE_CLIENTS = 10_000;
/** 64 MiB for one stream's queue: more is memory a Pi does not have for a client that does not read. */
const MAX_SSE_BUFFER = 64 * 2 ** 20;

export const CLOUD_TRANSPORTS = ["akka-grpc", "http", "mqtt"] as const;
export const REGISTRATION_TRANSPORTS = ["akka-grpc", "http"] as const;
export const AKKA_PAYLOADS = ["temperature", "observation"] as const;

/** 15 s: longer than the HTTP connector's 10 s request timeout, so a request in flight ends (acked or failed) first. */
export const DEFAULT_STOP_DEADLINE_MS = 15_000;
/** 10 min: a drain longer than this is a hang, not a drain. */
const MAX_STOP_DEADLINE_MS = 600_000;

const port: ValueKind = { type: "port" };
const host: ValueKind = { type: "string" };
const path: ValueKind = { type: "path" };
const text: ValueKind = { type: "string" };
const httpUrl: ValueKind = { type: "url", protocols: ["http:", "https:"] };
const target: ValueKind = { type: "target" };
const duration = (min: number, max: number): ValueKind => ({ type: "duration", min, max });
const outboxSize: ValueKind = { type: "size", min: MIN_OUTBOX_BYTES, max: MAX_OUTBOX_BYTES };
/** 100 million unrelayed observations: about 20 GB of store, past any Pi's SD card. */
const MAX_WATER_MARK = 100_000_000;
const waterMark: ValueKind = { type: "integer", min: 1, max: MAX_WATER_MARK };
/** 1 million connections: past what one gateway process could hold. */
const connections: ValueKind = { type: "integer", min: 1, max: 1_000_000 };

export const CONFIG_SCHEMA: readonly ConfigKey[] = [
  { path: "dataDir", kind: path, default: "./data/gateway", description: "directory of the SQLite stores (relative to the working directory)" },
  { path: "log.level", kind: { type: "enum", values: ["debug", "info", "warn", "error"] }, default: "info", description: "least severe level logged" },
  { path: "log.format", kind: { type: "enum", values: ["json", "pretty"] }, default: "json", description: "json: one object per line (journald, Loki); pretty: for a terminal" },

  { path: "mqtt.host", kind: host, default: "127.0.0.1", aliases: ["--host"], description: "interface of the MQTT listener (0.0.0.0 for the LAN)" },
  { path: "mqtt.port", kind: port, default: 1883, nullable: true, description: "plain MQTT port; 0 picks a free one; null/off: no plain listener" },
  { path: "mqtt.tls.host", kind: host, description: "interface of the MQTT-over-TLS listener (default: mqtt.host)" },
  { path: "mqtt.tls.port", kind: port, description: "MQTT-over-TLS port (default 8883 when TLS is configured)" },
  { path: "mqtt.tls.certFile", kind: path, description: "PEM certificate chain of the gateway" },
  { path: "mqtt.tls.keyFile", kind: path, description: "PEM private key of the gateway" },
  { path: "mqtt.tls.caFile", kind: path, description: "PEM CA that device client certificates must chain to (optional)" },
  // The device listener's limits (ingest/listener-limits.ts, ingest/login-throttle.ts give each default and why).
  { path: "mqtt.maxPacketBytes", kind: { type: "size", min: MIN_MAX_PACKET_BYTES, max: MAX_MAX_PACKET_BYTES }, default: DEFAULT_MAX_PACKET_BYTES, description: "largest MQTT packet a device may send, header included; a larger one closes its connection before its body is read" },
  { path: "mqtt.connectTimeoutMs", kind: duration(100, 10 * 60_000), default: DEFAULT_CONNECT_TIMEOUT_MS, description: "a device connection must send CONNECT within this long (TLS handshake included)" },
  { path: "mqtt.maxConnections", kind: connections, default: DEFAULT_MAX_CONNECTIONS, description: "device connections held at once, in all; more are closed at accept" },
  { path: "mqtt.maxConnectionsPerAddress", kind: connections, default: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, description: "device connections held at once from one source address (raise it for a simulator or a NAT)" },
  { path: "mqtt.maxUnauthenticated", kind: connections, default: DEFAULT_MAX_UNAUTHENTICATED, description: "connections not yet logged in, in all" },
  { path: "mqtt.maxUnauthenticatedPerAddress", kind: connections, default: DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS, description: "connections not yet logged in from one source address" },
  { path: "mqtt.maxInFlight", kind: { type: "integer", min: 1, max: 65_535 }, default: DEFAULT_MAX_IN_FLIGHT, description: "publishes of one device awaiting their commit; past it the gateway reads no more from that device until some are acknowledged" },
  { path: "mqtt.login.delayMs", kind: duration(0, HOUR_MS), default: DEFAULT_LOGIN_DELAY_MS, description: "after a failed login, the next attempt for that sensor from that address waits this long, doubling with each failure" },
  { path: "mqtt.login.maxDelayMs", kind: duration(0, HOUR_MS), default: DEFAULT_LOGIN_MAX_DELAY_MS, description: "longest such wait" },
  { path: "mqtt.login.maxFailures", kind: { type: "integer", min: 1, max: 1_000_000 }, default: DEFAULT_LOGIN_MAX_FAILURES, description: "failed logins for a sensor from one address after which its attempts from there are refused (CONNACK 5) without a look at the secret" },
  { path: "mqtt.login.forgetAfterMs", kind: duration(1000, 7 * 24 * HOUR_MS), default: DEFAULT_LOGIN_FORGET_AFTER_MS, description: "quiet time (no attempt) after which failed logins are forgotten and refusals lifted" },

  { path: "externalBroker.url", kind: { type: "url", protocols: ["mqtt:", "mqtts:"] }, description: "ingest from this broker instead of the embedded one" },
  { path: "externalBroker.username", kind: text, description: "user name on the external broker" },
  { path: "externalBroker.password", kind: text, secret: true, flag: false, description: "password on the external broker (file or environment only)" },
  { path: "externalBroker.caFile", kind: path, description: "PEM CA of the external broker" },
  { path: "externalBroker.certFile", kind: path, description: "PEM client certificate for the external broker" },
  { path: "externalBroker.keyFile", kind: path, description: "PEM client key for the external broker" },
  { path: "externalBroker.clientId", kind: text, description: "MQTT client id on the external broker" },
  { path: "externalBroker.topic", kind: text, description: "subscription on the external broker (default: every sensor's uplink)" },

  { path: "udp.host", kind: host, description: "interface of the UDP listener" },
  { path: "udp.port", kind: port, description: "UDP port; unset: no UDP listener" },
  { path: "http.host", kind: host, default: "127.0.0.1", description: "interface of the local API and dashboard; any but loopback needs http.token(File), http.tls.caFile or http.public" },
  { path: "http.port", kind: port, nullable: true, description: "port of the local API and dashboard; null/off: none" },
  { path: "http.token", kind: text, secret: true, flag: false, description: "token the local API requires for everything but /healthz, as Bearer (or Basic password, for browsers); file or environment only" },
  { path: "http.tokenFile", kind: path, description: "file of tokens the local API accepts, one a line" },
  { path: "http.public", kind: { type: "boolean" }, description: "true: serve a non-loopback http.host without credentials (say so explicitly; default false)" },
  { path: "http.tls.certFile", kind: path, description: "PEM certificate chain: the local API over HTTPS" },
  { path: "http.tls.keyFile", kind: path, description: "PEM private key of that certificate" },
  { path: "http.tls.caFile", kind: path, description: "PEM CA: a client certificate it signed opens the local API, as a token does" },
  { path: "http.sse.maxClients", kind: { type: "integer", min: 1, max: MAX_SSE_CLIENTS }, default: DEFAULT_SSE_MAX_CLIENTS, description: "event streams open at once; more are refused with 503" },
  { path: "http.sse.maxClientsPerAddress", kind: { type: "integer", min: 1, max: MAX_SSE_CLIENTS }, default: DEFAULT_SSE_MAX_CLIENTS_PER_ADDRESS, description: "event streams from one address; more are refused with 429 (raise it behind a reverse proxy)" },
  { path: "http.sse.maxBufferedBytes", kind: { type: "size", min: 4096, max: MAX_SSE_BUFFER }, default: DEFAULT_SSE_MAX_BUFFERED_BYTES, description: "bytes queued for one event stream before the gateway waits for it to read" },
  { path: "http.sse.stallMs", kind: duration(1000, 600_000), default: SSE_STALL_MS, description: "an event stream whose queue has not drained this long is dropped" },

  { path: "cloud.transport", kind: { type: "enum", values: CLOUD_TRANSPORTS }, default: "akka-grpc", description: "how observations reach the cloud: akka-grpc (Akka Projection gRPC EventConsumerService), http (the reference cloud's JSON API) or mqtt (QoS 1 to an upstream broker)" },
  { path: "cloud.target", kind: target, default: DEFAULT_CLOUD_TARGET, description: "host:port of the cloud's gRPC services (akka-grpc)" },
  { path: "cloud.url", kind: httpUrl, default: DEFAULT_CLOUD_URL, description: "base URL of the cloud's HTTP API (http)" },
  { path: "cloud.token", kind: text, secret: true, flag: false, description: "the gateway's bearer token at the cloud, sent on the observation and registration links (akka-grpc, http; file or environment only)" },
  { path: "cloud.tokenFile", kind: path, description: "file holding cloud.token (e.g. the reference cloud's credentials/gateway.token)" },
  { path: "cloud.akka.originId", kind: text, description: "origin id the gateway announces in ConsumerEventInit" },
  { path: "cloud.akka.streamId", kind: text, description: "stream id of the observation events (the sample's temperature-events)" },
  { path: "cloud.akka.entityType", kind: text, description: "entity type of the persistence ids, <entityType>|<sensorId>" },
  { path: "cloud.akka.payload", kind: { type: "enum", values: AKKA_PAYLOADS }, description: "observation (default): xsedge.observation.v1.ObservationRecorded, every reading; temperature: the Akka sample's iot.temperature.TemperatureRead, whole degrees only (drops the rest, logged at start)" },
  { path: "cloud.akka.maxInFlight", kind: { type: "integer", min: 1, max: MAX_IN_FLIGHT }, description: "events sent and not yet acknowledged, at most" },
  { path: "cloud.akka.ackTimeoutMs", kind: duration(100, 10 * 60_000), description: "a stream with events in flight and no ack for this long is given up and its events sent again; doubles after each such timeout, up to 2 min (default 10 s)" },
  { path: "cloud.mqtt.url", kind: { type: "url", protocols: ["mqtt:", "mqtts:"] }, description: "upstream broker (mqtt)" },
  { path: "cloud.mqtt.username", kind: text, description: "user name on the upstream broker" },
  { path: "cloud.mqtt.password", kind: text, secret: true, flag: false, description: "password on the upstream broker (file or environment only)" },
  { path: "cloud.mqtt.clientId", kind: text, description: "MQTT client id on the upstream broker" },
  { path: "cloud.mqtt.topic", kind: text, description: "topic template of relayed observations" },
  { path: "cloud.tls.enabled", kind: { type: "boolean" }, description: "TLS to the cloud's gRPC services (default: on when a cloud.tls file is given; http and mqtt follow their URL's scheme)" },
  { path: "cloud.tls.caFile", kind: path, description: "PEM CA the cloud's certificate must chain to (default: the system's roots)" },
  { path: "cloud.tls.certFile", kind: path, description: "PEM client certificate of the gateway (mutual TLS)" },
  { path: "cloud.tls.keyFile", kind: path, description: "PEM private key of that client certificate" },

  { path: "registration.transport", kind: { type: "enum", values: REGISTRATION_TRANSPORTS }, description: "where registrations come from: akka-grpc (EventsBySlices) or http (the reference cloud's SSE stream); default http when cloud.transport is http, else akka-grpc" },
  { path: "registration.target", kind: target, description: "host:port of the EventProducerService (default: cloud.target)" },
  { path: "registration.url", kind: httpUrl, description: "base URL of the registration stream, http (default: cloud.url)" },
  { path: "registration.token", kind: text, secret: true, flag: false, description: "bearer token for the registration stream (default: cloud.token, unless registration.target or registration.url names another service; file or environment only)" },
  { path: "registration.tokenFile", kind: path, description: "file holding registration.token" },
  { path: "registration.streamId", kind: text, description: "stream id of the registration events (the sample's registration-events)" },
  { path: "registration.tls.enabled", kind: { type: "boolean" }, description: "TLS to the registration service's gRPC (default: as cloud.tls for the same transport, on when a registration.tls file is given)" },
  { path: "registration.tls.caFile", kind: path, description: "PEM CA of the registration service (default: cloud.tls.caFile)" },
  { path: "registration.tls.certFile", kind: path, description: "PEM client certificate for the registration service (default: cloud.tls.certFile)" },
  { path: "registration.tls.keyFile", kind: path, description: "PEM client key for the registration service (default: cloud.tls.keyFile)" },
  { path: "registration.idleRecycleMs", kind: duration(1000, 24 * HOUR_MS), nullable: true, description: "request the Akka registration stream again, from the stored offset, after it brought nothing for this long (default 10 min; null/off: never)" },
  { path: "registration.retryInitialMs", kind: duration(10, HOUR_MS), description: "first wait after a failed registration fetch" },
  { path: "registration.retryMaxMs", kind: duration(10, HOUR_MS), description: "longest wait between registration fetches that fail" },

  { path: "outbox.maxBytes", kind: outboxSize, description: "most the store may hold on disk; beyond it the oldest observations are evicted (relayed ones first), counted and logged" },
  { path: "outbox.highWater", kind: waterMark, description: "unrelayed observations above which devices' acknowledgements are held back" },
  { path: "outbox.lowWater", kind: waterMark, description: "unrelayed observations below which held acknowledgements are released" },
  { path: "rateLimit.perSecond", kind: { type: "number", min: 0.001, max: MAX_RATE_PER_SECOND }, description: "sustained publishes per second per sensor" },
  { path: "rateLimit.burst", kind: { type: "integer", min: 1, max: MAX_RATE_PER_SECOND }, description: "publishes a sensor may send at once above the rate" },

  { path: "relay.batchSize", kind: { type: "integer", min: 1, max: MAX_RELAY_BATCH }, default: DEFAULT_BATCH_SIZE, description: "observations per cloud request" },
  { path: "relay.intervalMs", kind: duration(1, HOUR_MS), default: DEFAULT_RELAY_POLICY.intervalMs, description: "wait between relay rounds when idle" },
  { path: "relay.retryInitialMs", kind: duration(1, HOUR_MS), default: DEFAULT_RELAY_POLICY.retryInitialMs, description: "first wait after a failed cloud request" },
  { path: "relay.retryMaxMs", kind: duration(1, HOUR_MS), default: DEFAULT_RELAY_POLICY.retryMaxMs, description: "longest wait between failing cloud requests" },

  { path: "rules.enabled", kind: { type: "boolean" }, default: true, description: "run gateway rules (false: no rule engine, no rules workers, the rule routes answer 503)" },
  { path: "rules.workers", kind: { type: "integer", min: 1, max: MAX_RULE_WORKERS }, description: "xsnap-workers the rules share, about 45 MB each (default 1): more means a rule's fault pauses fewer others" },
  { path: "rules.workerMemoryBytes", kind: { type: "size", min: 64 * 2 ** 20, max: 2 ** 31 }, description: `memory cap of each rules worker, where a rule's memory blow-up stops (default ${DEFAULT_WORKER_MEMORY_BYTES / 2 ** 20} MiB)` },
  { path: "rules.verdictWaitMs", kind: duration(100, HOUR_MS), description: `how long the relay waits for a rule that decides what is relayed, then relays anyway (default ${DEFAULT_VERDICT_WAIT_MS / 1000} s)` },
  { path: "rules.alerts.webhook.url", kind: httpUrl, description: "POST each alert's JSON here (Idempotency-Key header), retried with backoff" },
  { path: "rules.alerts.webhook.token", kind: text, secret: true, flag: false, description: "bearer token for the alert webhook (file or environment only)" },
  { path: "rules.alerts.mqtt.url", kind: { type: "url", protocols: ["mqtt:", "mqtts:"] }, description: "publish each alert (QoS 1) to this broker" },
  { path: "rules.alerts.mqtt.topic", kind: text, description: `alerts go to <topic>/<rule> (default ${DEFAULT_ALERT_TOPIC})` },
  { path: "rules.alerts.mqtt.username", kind: text, description: "user name on the alert broker" },
  { path: "rules.alerts.mqtt.password", kind: text, secret: true, flag: false, description: "password on the alert broker (file or environment only)" },
  { path: "rules.alerts.mqtt.clientId", kind: text, description: "MQTT client id on the alert broker" },

  { path: "shutdown.deadlineMs", kind: duration(100, MAX_STOP_DEADLINE_MS), default: DEFAULT_STOP_DEADLINE_MS, description: "how long a stop may drain before the process exits non-zero" },
];

const camelToWords = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2");

/** "externalBroker.password" → "XSEDGE_GATEWAY_EXTERNAL_BROKER_PASSWORD" */
export function envName(key: ConfigKey): string {
  return ENV_PREFIX + key.path.split(".").map(camelToWords).join("_").toUpperCase();
}

/** "mqtt.tls.certFile" → "--mqtt-tls-cert-file"; undefined for a key without a flag. */
export function flagName(key: ConfigKey): string | undefined {
  if (key.flag === false) return undefined;
  return "--" + key.path.split(".").map((part) => camelToWords(part).replace(/_/g, "-")).join("-").toLowerCase();
}

export const KEY_BY_PATH: ReadonlyMap<string, ConfigKey> = new Map(CONFIG_SCHEMA.map((key) => [key.path, key]));

/** "mqtt", "mqtt.tls", ...: the paths that hold mappings in a file. */
export const SECTIONS: ReadonlySet<string> = new Set(
  CONFIG_SCHEMA.flatMap((key) => key.path.split(".").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("."))),
);
