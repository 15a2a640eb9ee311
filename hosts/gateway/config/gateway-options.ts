/*
 * The resolved config → startGateway's options. The one place that knows
 * both the file's key paths and the option names, so a renamed option is a
 * one-line change here. Token files (cloud.tokenFile, ...) are read here, so
 * an unreadable one is a configuration error (exit 2) naming its key.
 */
import { resolve as resolvePath } from "node:path";
import type { Level } from "../../log/logger.js";
import type { GatewayOptions } from "../gateway.js";
import type { ResolvedConfig } from "./resolve.js";
import { DEFAULT_MQTT_TLS_PORT } from "./rules.js";
import type { ClientTlsFiles } from "../../grpc/tls.js";
import { defaultRegistrationLink, type CloudLinkOptions, type RegistrationLinkOptions } from "../cloud-link.js";
import type { RulesSettings } from "../rules/rules-service.js";
import { readClientToken, readTokenFile } from "../../auth/token-file.js";
import { sendableTokenProblem, TokenError, TokenSet } from "../../auth/bearer.js";
import type { ApiAccessOptions } from "../api/api-access.js";
import type { StreamLimits } from "../api/observation-stream.js";

/** Every option the config covers: startGateway's, without the logger (the CLI makes it from log.*). */
export type ConfiguredGatewayOptions = Omit<GatewayOptions, "logger">;

/** What the CLI itself uses: the logger's settings and how long a stop may drain. */
export interface ProcessSettings {
  log: { level: Level; format: "json" | "pretty" };
  stopDeadlineMs: number;
}

// Only keys that are set, so the gateway's own defaults apply to the rest.
function defined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

export function toGatewayOptions(config: ResolvedConfig): ConfiguredGatewayOptions {
  const get = <T>(path: string) => config.values.get(path) as T;
  const path = (key: string) => (config.values.has(key) ? resolvePath(get<string>(key)) : undefined);
  const options: ConfiguredGatewayOptions = defined({
    dataDir: resolvePath(get<string>("dataDir")),
    mqttHost: get<string | undefined>("mqtt.host"),
    mqttPort: get<number | null | undefined>("mqtt.port"),
    udpHost: get<string | undefined>("udp.host"),
    udpPort: get<number | undefined>("udp.port"),
    httpHost: get<string | undefined>("http.host"),
    httpPort: get<number | null | undefined>("http.port"),
    registrationRetryInitialMs: get<number | undefined>("registration.retryInitialMs"),
    registrationRetryMaxMs: get<number | undefined>("registration.retryMaxMs"),
    outboxMaxBytes: get<number | undefined>("outbox.maxBytes"),
    outboxHighWater: get<number | undefined>("outbox.highWater"),
    outboxLowWater: get<number | undefined>("outbox.lowWater"),
    rateLimitPerSecond: get<number | undefined>("rateLimit.perSecond"),
    rateLimitBurst: get<number | undefined>("rateLimit.burst"),
    relayBatchSize: get<number | undefined>("relay.batchSize"),
    relayIntervalMs: get<number | undefined>("relay.intervalMs"),
    relayRetryInitialMs: get<number | undefined>("relay.retryInitialMs"),
    relayRetryMaxMs: get<number | undefined>("relay.retryMaxMs"),
  });
  const ruleSettings = rules(config);
  if (ruleSettings !== undefined) options.rules = ruleSettings;
  options.cloudLink = cloudLink(config);
  options.registrationLink = registrationLink(config, options.cloudLink);
  options.httpAccess = httpAccess(config);
  options.sseLimits = defined({
    maxClients: get<number | undefined>("http.sse.maxClients"),
    maxClientsPerAddress: get<number | undefined>("http.sse.maxClientsPerAddress"),
    maxBufferedBytes: get<number | undefined>("http.sse.maxBufferedBytes"),
    stallMs: get<number | undefined>("http.sse.stallMs"),
  }) satisfies Partial<StreamLimits>;
  options.mqttLimits = defined({
    maxPacketBytes: get<number | undefined>("mqtt.maxPacketBytes"),
    connectTimeoutMs: get<number | undefined>("mqtt.connectTimeoutMs"),
    maxConnections: get<number | undefined>("mqtt.maxConnections"),
    maxConnectionsPerAddress: get<number | undefined>("mqtt.maxConnectionsPerAddress"),
    maxUnauthenticated: get<number | undefined>("mqtt.maxUnauthenticated"),
    maxUnauthenticatedPerAddress: get<number | undefined>("mqtt.maxUnauthenticatedPerAddress"),
    maxInFlight: get<number | undefined>("mqtt.maxInFlight"),
  });
  options.mqttLoginThrottle = defined({
    initialDelayMs: get<number | undefined>("mqtt.login.delayMs"),
    maxDelayMs: get<number | undefined>("mqtt.login.maxDelayMs"),
    maxFailures: get<number | undefined>("mqtt.login.maxFailures"),
    forgetAfterMs: get<number | undefined>("mqtt.login.forgetAfterMs"),
  });
  if (config.values.has("mqtt.tls.certFile")) {
    options.mqttTls = defined({
      host: get<string | undefined>("mqtt.tls.host"),
      port: get<number | undefined>("mqtt.tls.port") ?? DEFAULT_MQTT_TLS_PORT,
      certFile: path("mqtt.tls.certFile") as string,
      keyFile: path("mqtt.tls.keyFile") as string,
      caFile: path("mqtt.tls.caFile"),
    });
  }
  if (config.values.has("externalBroker.url")) {
    options.externalBroker = defined({
      url: get<string>("externalBroker.url"),
      username: get<string | undefined>("externalBroker.username"),
      password: get<string | undefined>("externalBroker.password"),
      caFile: path("externalBroker.caFile"),
      certFile: path("externalBroker.certFile"),
      keyFile: path("externalBroker.keyFile"),
      clientId: get<string | undefined>("externalBroker.clientId"),
      topic: get<string | undefined>("externalBroker.topic"),
    });
    // The embedded broker's defaults must not open a listener beside the external one.
    delete options.mqttHost;
    delete options.mqttPort;
    delete options.mqttLimits;
    delete options.mqttLoginThrottle;
  }
  return options;
}

/** null: rules off; undefined: nothing set (the gateway's defaults). */
function rules(config: ResolvedConfig): RulesSettings | null | undefined {
  const get = <T>(path: string) => config.values.get(path) as T;
  if (get<boolean>("rules.enabled") === false) return null;
  const alerts: NonNullable<RulesSettings["alerts"]> = {};
  if (config.values.has("rules.alerts.webhook.url")) {
    alerts.webhook = defined({ url: get<string>("rules.alerts.webhook.url"), token: get<string | undefined>("rules.alerts.webhook.token") });
  }
  if (config.values.has("rules.alerts.mqtt.url")) {
    alerts.mqtt = defined({
      url: get<string>("rules.alerts.mqtt.url"),
      topic: get<string | undefined>("rules.alerts.mqtt.topic"),
      username: get<string | undefined>("rules.alerts.mqtt.username"),
      password: get<string | undefined>("rules.alerts.mqtt.password"),
      clientId: get<string | undefined>("rules.alerts.mqtt.clientId"),
    });
  }
  const settings: RulesSettings = defined({
    workers: get<number | undefined>("rules.workers"),
    workerMemoryBytes: get<number | undefined>("rules.workerMemoryBytes"),
    verdictWaitMs: get<number | undefined>("rules.verdictWaitMs"),
  });
  if (Object.keys(alerts).length > 0) settings.alerts = alerts;
  return Object.keys(settings).length > 0 ? settings : undefined;
}

/** TLS files under `prefix` (e.g. "cloud.tls"); undefined when none is given. */
function tlsFiles(config: ResolvedConfig, prefix: string): ClientTlsFiles | undefined {
  const file = (key: string) => (config.values.has(`${prefix}.${key}`) ? resolvePath(config.values.get(`${prefix}.${key}`) as string) : undefined);
  const files = defined({ caFile: file("caFile"), certFile: file("certFile"), keyFile: file("keyFile") });
  return Object.keys(files).length === 0 ? undefined : files;
}

/** gRPC has no scheme to say TLS: `enabled`, else any file given, turns it on. */
function grpcTls(config: ResolvedConfig, prefix: string): ClientTlsFiles | undefined {
  const files = tlsFiles(config, prefix);
  const enabled = config.values.get(`${prefix}.enabled`) as boolean | undefined;
  if (enabled === false) return undefined;
  return enabled === true ? files ?? {} : files;
}

/** `<prefix>.token`, else the token in `<prefix>.tokenFile`, else undefined. */
function tokenOf(config: ResolvedConfig, prefix: string): string | undefined {
  const given = config.values.get(`${prefix}.token`) as string | undefined;
  const file = config.values.get(`${prefix}.tokenFile`) as string | undefined;
  const token = given ?? (file === undefined ? undefined : readClientToken(resolvePath(file), `${prefix}.tokenFile ${file}`));
  const problem = token === undefined ? undefined : sendableTokenProblem(token);
  if (problem !== undefined) throw new TokenError(`${given !== undefined ? `${prefix}.token` : `the token in ${prefix}.tokenFile ${file}`} ${problem}`);
  return token;
}

/** The local API's tokens (checked as a server's: long enough), its TLS, and whether it may be public. */
function httpAccess(config: ResolvedConfig): ApiAccessOptions {
  const get = <T>(path: string) => config.values.get(path) as T;
  const token = get<string | undefined>("http.token");
  const file = get<string | undefined>("http.tokenFile");
  const tokens = token !== undefined ? [token] : file !== undefined ? readTokenFile(resolvePath(file), `http.tokenFile ${file}`) : undefined;
  if (tokens !== undefined) new TokenSet(tokens, token !== undefined ? "http.token" : `http.tokenFile ${file}`);
  const tls = tlsFiles(config, "http.tls");
  return defined({
    tokens,
    public: get<boolean | undefined>("http.public"),
    tls: tls === undefined ? undefined : { certFile: tls.certFile as string, keyFile: tls.keyFile as string, caFile: tls.caFile },
  });
}

function cloudLink(config: ResolvedConfig): CloudLinkOptions {
  const get = <T>(path: string) => config.values.get(path) as T;
  switch (get<CloudLinkOptions["transport"]>("cloud.transport")) {
    case "http":
      return defined({ transport: "http" as const, url: get<string>("cloud.url"), tls: tlsFiles(config, "cloud.tls"), token: tokenOf(config, "cloud") });
    case "mqtt":
      return defined({
        transport: "mqtt" as const,
        url: get<string>("cloud.mqtt.url"),
        username: get<string | undefined>("cloud.mqtt.username"),
        password: get<string | undefined>("cloud.mqtt.password"),
        clientId: get<string | undefined>("cloud.mqtt.clientId"),
        topic: get<string | undefined>("cloud.mqtt.topic"),
        tls: tlsFiles(config, "cloud.tls"),
      });
    case "akka-grpc":
      return defined({
        transport: "akka-grpc" as const,
        target: get<string>("cloud.target"),
        tls: grpcTls(config, "cloud.tls"),
        token: tokenOf(config, "cloud"),
        originId: get<string | undefined>("cloud.akka.originId"),
        streamId: get<string | undefined>("cloud.akka.streamId"),
        entityType: get<string | undefined>("cloud.akka.entityType"),
        payload: get<"temperature" | "observation" | undefined>("cloud.akka.payload"),
        maxInFlight: get<number | undefined>("cloud.akka.maxInFlight"),
        ackTimeoutMs: get<number | undefined>("cloud.akka.ackTimeoutMs"),
      });
  }
}

function registrationLink(config: ResolvedConfig, cloud: CloudLinkOptions): RegistrationLinkOptions {
  const get = <T>(path: string) => config.values.get(path) as T;
  const fallback = defaultRegistrationLink(cloud);
  const transport = get<RegistrationLinkOptions["transport"] | undefined>("registration.transport") ?? fallback.transport;
  const ownTls = [...config.values.keys()].some((key) => key.startsWith("registration.tls."));
  // The cloud's token goes only where the cloud is: a registration service named apart gets its own, or none.
  const elsewhere = config.values.has("registration.target") || config.values.has("registration.url");
  const token = tokenOf(config, "registration") ?? (elsewhere || fallback.transport !== transport ? undefined : fallback.token);
  if (transport === "http") {
    const tls = ownTls ? tlsFiles(config, "registration.tls") : fallback.transport === "http" ? fallback.tls : undefined;
    return defined({ transport, url: get<string | undefined>("registration.url") ?? get<string>("cloud.url"), tls, token });
  }
  const tls = ownTls ? grpcTls(config, "registration.tls") : fallback.transport === "akka-grpc" ? fallback.tls : undefined;
  const target = get<string | undefined>("registration.target") ?? (fallback.transport === "akka-grpc" ? fallback.target : get<string>("cloud.target"));
  const idleRecycle = get<number | null | undefined>("registration.idleRecycleMs");
  return defined({ transport, target, tls, token, streamId: get<string | undefined>("registration.streamId"), idleRecycleMs: idleRecycle === null ? 0 : idleRecycle });
}

export function toProcessSettings(config: ResolvedConfig): ProcessSettings {
  return {
    log: { level: config.values.get("log.level") as Level, format: config.values.get("log.format") as "json" | "pretty" },
    stopDeadlineMs: config.values.get("shutdown.deadlineMs") as number,
  };
}
