/*
 * The gateway's two links to the cloud, as settings: where observations go
 * (the relay's CloudConnector) and where registrations come from (the
 * projection's feed). Akka Projection gRPC is the default for both, so the
 * gateway can stand where the Akka Edge sample's edge service stands.
 * The one place that knows every transport; gateway.ts holds the results
 * behind CloudConnector and RegistrationSource.
 */
import type { ClientTlsFiles } from "../grpc/tls.js";
import type { Logger } from "../log/logger.js";
import { AkkaRegistrationConsumer } from "./registrations/akka/consumer.js";
import type { CloudConnector } from "./relay/connector.js";
import { createAkkaGrpcConnector } from "./relay/connectors/akka-grpc.js";
import { createHttpConnector } from "./relay/connectors/http.js";
import { createMqttConnector } from "./relay/connectors/mqtt.js";
import { hostname } from "node:os";
import { RegistrationFeed } from "./registrations/feed.js";
import type { RegistrationProjection } from "./registrations/projection.js";
import type { RegistrationSource } from "./registrations/source.js";

export type CloudTransport = "akka-grpc" | "http" | "mqtt";
export type RegistrationTransport = "akka-grpc" | "http";
export type AkkaPayload = "temperature" | "observation";

/** The reference cloud's (and the Akka JVM sample's) gRPC port on this host. */
export const DEFAULT_CLOUD_TARGET = "127.0.0.1:8101";
/** The reference cloud's HTTP API. */
export const DEFAULT_CLOUD_URL = "http://127.0.0.1:8102";

export interface AkkaCloudLink {
  transport: "akka-grpc";
  /** host:port of EventConsumerService. */
  target: string;
  /** TLS (h2 over TLS) when given; plaintext h2c otherwise, as the sample runs. */
  tls?: ClientTlsFiles;
  /** The gateway's bearer token at the cloud (cloud.token); none for a cloud that asks none, as the Akka sample. */
  token?: string;
  originId?: string;
  streamId?: string;
  entityType?: string;
  payload?: AkkaPayload;
  maxInFlight?: number;
  /** Where the adaptive ack timeout starts (relay/connectors/akka-grpc.ts DEFAULT_ACK_TIMEOUT_MS). */
  ackTimeoutMs?: number;
}

export interface HttpCloudLink {
  transport: "http";
  /** Base URL, http:// or https:// (then `tls` applies). */
  url: string;
  tls?: ClientTlsFiles;
  token?: string;
}

export interface MqttCloudLink {
  transport: "mqtt";
  /** mqtt:// or mqtts:// (then `tls` applies). */
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  topic?: string;
  tls?: ClientTlsFiles;
}

export type CloudLinkOptions = AkkaCloudLink | HttpCloudLink | MqttCloudLink;

export type RegistrationLinkOptions =
  | {
      transport: "akka-grpc";
      target: string;
      tls?: ClientTlsFiles;
      token?: string;
      streamId?: string;
      /** Request the stream again after it brought nothing this long; 0: never (akka/consumer-options.ts DEFAULT_IDLE_RECYCLE_MS by default). */
      idleRecycleMs?: number;
    }
  | { transport: "http"; url: string; tls?: ClientTlsFiles; token?: string };

/** Registrations follow the cloud link unless told otherwise: the same HTTP cloud, or the same gRPC host, with the same credential. */
export function defaultRegistrationLink(cloud: CloudLinkOptions): RegistrationLinkOptions {
  if (cloud.transport === "http") return { transport: "http", url: cloud.url, tls: cloud.tls, token: cloud.token };
  if (cloud.transport === "akka-grpc") return { transport: "akka-grpc", target: cloud.target, tls: cloud.tls, token: cloud.token };
  // An MQTT cloud's broker certificates say nothing about the registration service.
  return { transport: "akka-grpc", target: DEFAULT_CLOUD_TARGET };
}

/** A connector and what it can tell about itself, for /metrics and stats. */
export interface OpenedCloudLink {
  connector: CloudConnector;
  /** Transport-specific counters (streams, acks, timeouts); absent for HTTP. */
  stats?: () => object;
}

export function openCloudLink(link: CloudLinkOptions, logger: Logger): OpenedCloudLink {
  switch (link.transport) {
    case "akka-grpc": {
      const connector = createAkkaGrpcConnector({ ...link, logger });
      return { connector, stats: () => connector.stats() };
    }
    case "http":
      return { connector: createHttpConnector({ url: link.url, tls: link.tls, token: link.token }) };
    case "mqtt": {
      const connector = createMqttConnector({
        url: link.url,
        // One session per gateway at the broker: a second client with the same id would take the first one over.
        clientId: link.clientId ?? `xsedge-${hostname()}`,
        username: link.username,
        password: link.password,
        topic: link.topic,
        tls: link.tls,
        logger,
      });
      return { connector, stats: () => connector.stats() };
    }
  }
}

export interface RegistrationSourceOptions {
  projection: RegistrationProjection;
  logger: Logger;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export function openRegistrationSource(link: RegistrationLinkOptions, options: RegistrationSourceOptions): RegistrationSource {
  if (link.transport === "http") return new RegistrationFeed({ url: link.url, tls: link.tls, token: link.token, ...options });
  return new AkkaRegistrationConsumer({ target: link.target, tls: link.tls, token: link.token, streamId: link.streamId, idleRecycleMs: link.idleRecycleMs, ...options });
}
