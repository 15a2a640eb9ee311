/*
 * The resolved config → startGateway's options. The one place that knows
 * both the file's key paths and the option names, so a renamed option is a
 * one-line change here.
 */
import { resolve as resolvePath } from "node:path";
import type { Level } from "../../log/logger.js";
import type { GatewayOptions } from "../gateway.js";
import type { ResolvedConfig } from "./resolve.js";
import { DEFAULT_MQTT_TLS_PORT } from "./rules.js";

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
    cloudUrl: get<string | undefined>("cloud.url"),
    registrationUrl: get<string | undefined>("registration.url"),
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
  }
  return options;
}

export function toProcessSettings(config: ResolvedConfig): ProcessSettings {
  return {
    log: { level: config.values.get("log.level") as Level, format: config.values.get("log.format") as "json" | "pretty" },
    stopDeadlineMs: config.values.get("shutdown.deadlineMs") as number,
  };
}
