/*
 * A cloud connector for clouds that speak MQTT (AWS IoT Core, HiveMQ, EMQX,
 * mosquitto): each observation is one QoS 1 PUBLISH of its JSON to the
 * upstream broker, and is acknowledged to the relay only by its PUBACK.
 *
 * The outbox semantics are the HTTP connector's: a batch resolves with the
 * observations the broker acknowledged (possibly fewer than sent) and
 * rejects only when it acknowledged none, with the reason. Whatever was in
 * flight when the connection dropped, or when a PUBACK did not come in time,
 * stays unrelayed in SQLite and is sent again by the relay after the
 * reconnect; the broker may then hold it twice, which is why the payload
 * carries sensorId and seq. With MQTT 5 (the default) a broker that refuses a
 * publish says so in the PUBACK (e.g. its ACL: "not authorized"); an MQTT
 * 3.1.1 broker cannot, and mosquitto acknowledges and drops a publish its ACL
 * denies, so with protocolVersion 4 the ACL must be right.
 */
import type { Logger } from "../../../log/logger.js";
import { checkTlsScheme, readClientTls, type ClientTlsFiles } from "../cloud-tls.js";
import type { CloudAck, CloudConnector, ObservationKey, RelayedObservation } from "../connector.js";
import { RECONNECT_INITIAL_MS, RECONNECT_MAX_MS } from "../../ingest/external-broker-policy.js";
import { MqttLink } from "./mqtt-link.js";
import {
  DEFAULT_TOPIC_TEMPLATE, MqttOptionError, observationPayload, parseCloudBrokerUrl, parseTopicTemplate, pubackRefusal, type TopicTemplate,
} from "./mqtt-message.js";
import { PublishWindow, type WindowResult } from "./mqtt-publish-window.js";

/**
 * Unacknowledged publishes at once: AWS IoT Core's limit per connection
 * (100), and at 50 ms round trip still 2,000 observations a second. Lowered
 * further by a broker's MQTT 5 Receive Maximum (mosquitto's is 20).
 */
export const DEFAULT_MAX_IN_FLIGHT = 100;
/** As the HTTP connector's timeout: longer than a healthy broker needs, short enough that a stuck one shows within seconds. */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
/** Seconds between pings: a vanished broker is noticed within 1.5 × this. AWS IoT accepts 30 to 1,200. */
export const DEFAULT_KEEPALIVE_S = 30;
/** A broker that takes TCP (or TLS) but sends no CONNACK is given up on after this long. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface MqttConnectorOptions {
  /** mqtt://host:port or mqtts://host:port (TLS); credentials in it are used, never shown. */
  url: string;
  /** Unique per gateway at the broker (a second connection with it takes the first one over). */
  clientId: string;
  username?: string;
  password?: string;
  /** Topic template with {gatewayId} and {sensorId}; default DEFAULT_TOPIC_TEMPLATE. */
  topic?: string;
  /** Fills {gatewayId}; default the clientId. */
  gatewayId?: string;
  /** CA file for the broker's certificate, and a client certificate for mutual TLS; needs an mqtts:// URL. */
  tls?: ClientTlsFiles;
  keepaliveSeconds?: number;
  maxInFlight?: number;
  ackTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** First delay before reconnecting; doubles up to retryMaxMs. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** 5 (default) or 4 (MQTT 3.1.1). */
  protocolVersion?: 4 | 5;
  logger: Logger;
}

export interface MqttConnectorStats {
  connected: boolean;
  /** PUBLISH packets sent (a resend counts again). */
  published: number;
  /** PUBACKs that acknowledged an observation. */
  acked: number;
  /** Publishes the broker refused (MQTT 5 PUBACK reason >= 0x80), or that could not be addressed. */
  refused: number;
  /** Batches stopped because a PUBACK did not come within ackTimeoutMs (the connection is then cut). */
  timeouts: number;
  /** Published but never acknowledged: in flight when the connection dropped or timed out. The relay resends them. */
  abandoned: number;
  /** Connection attempts refused or failed (auth, unreachable, TLS). */
  connectFailures: number;
  /** Connections established after the first. */
  reconnects: number;
  lastError: string | null;
}

/** A batch the broker acknowledged none of; the message says why. */
export class MqttCloudError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MqttCloudError";
  }
}

function positiveInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new MqttOptionError(`mqtt cloud ${name} must be an integer from 1 to ${max}, got ${value}`);
  return value;
}

export class MqttConnector implements CloudConnector {
  readonly name: string;
  readonly #link: MqttLink;
  readonly #log: Logger;
  readonly #topics: TopicTemplate;
  readonly #maxInFlight: number;
  readonly #ackTimeoutMs: number;
  readonly #publishOptions: { qos: 1; retain: false; properties?: { payloadFormatIndicator: boolean; contentType: string } };
  readonly #stats = { published: 0, acked: 0, refused: 0, timeouts: 0, abandoned: 0 };
  #lastError: string | null = null;
  #sending = false;

  /** Starts connecting in the background. Throws at once on a bad option or an unreadable TLS file. */
  constructor(options: MqttConnectorOptions) {
    const broker = parseCloudBrokerUrl(options.url);
    checkTlsScheme(new URL(options.url), options.tls, "mqtts:", "mqtt cloud");
    if (options.clientId === "") throw new MqttOptionError("mqtt cloud clientId must not be empty");
    this.#topics = parseTopicTemplate(options.topic ?? DEFAULT_TOPIC_TEMPLATE, options.gatewayId ?? options.clientId);
    this.#maxInFlight = positiveInteger("maxInFlight", options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, 65_535);
    this.#ackTimeoutMs = positiveInteger("ackTimeoutMs", options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS, 3_600_000);
    const keepalive = options.keepaliveSeconds ?? DEFAULT_KEEPALIVE_S;
    if (keepalive !== 0) positiveInteger("keepaliveSeconds", keepalive, 65_535);
    const protocolVersion = options.protocolVersion ?? 5;
    if (protocolVersion !== 4 && protocolVersion !== 5) throw new MqttOptionError(`mqtt cloud protocolVersion must be 4 or 5, got ${protocolVersion}`);
    const tls = readClientTls(options.tls, "mqtt cloud TLS");
    this.#publishOptions = protocolVersion === 5
      ? { qos: 1, retain: false, properties: { payloadFormatIndicator: true, contentType: "application/json" } }
      : { qos: 1, retain: false };
    this.name = `mqtt ${broker.shown}`;
    this.#log = options.logger;
    this.#link = new MqttLink({
      broker,
      client: {
        clientId: options.clientId,
        username: options.username ?? broker.username,
        password: options.password ?? broker.password,
        protocolVersion,
        keepalive,
        connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        ...tls,
        rejectUnauthorized: true,
        // No session to come back to: the outbox holds what is unacknowledged.
        ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
      },
      retryInitialMs: options.retryInitialMs ?? RECONNECT_INITIAL_MS,
      retryMaxMs: options.retryMaxMs ?? RECONNECT_MAX_MS,
      logger: options.logger,
      onError: (message) => (this.#lastError = message),
    });
  }

  stats(): MqttConnectorStats {
    const link = this.#link.stats();
    return { connected: link.connected, ...this.#stats, connectFailures: link.connectFailures, reconnects: link.reconnects, lastError: this.#lastError };
  }

  async send(batch: readonly RelayedObservation[]): Promise<CloudAck> {
    if (batch.length === 0) return { acked: [] };
    // The relay sends one batch at a time; two at once would share the in-flight limit unseen.
    if (this.#sending) throw new MqttCloudError(`${this.name}: a batch is already being sent`);
    this.#sending = true;
    try {
      const client = await this.#link.ready();
      const result = await this.#publish(client, batch);
      this.#stats.abandoned += result.abandoned;
      const acked: ObservationKey[] = result.acked.map((i) => ({ sensorId: batch[i].sensorId, seq: batch[i].seq }));
      if (result.error !== null) {
        this.#lastError = result.error;
        this.#log.warn(`${this.name}: ${acked.length} of ${batch.length} acknowledged: ${result.error}`, { acked: acked.length, sent: batch.length });
        if (acked.length === 0) throw new MqttCloudError(`${this.name}: ${result.error}`);
      }
      return { acked };
    } finally {
      this.#sending = false;
    }
  }

  /** Ends a batch in flight (resolving with what was acknowledged) and disconnects. */
  close(): Promise<void> {
    return this.#link.close();
  }

  /** Never rejects: every way a batch ends is in its result. */
  #publish(client: Awaited<ReturnType<MqttLink["ready"]>>, batch: readonly RelayedObservation[]): Promise<WindowResult> {
    const window = new PublishWindow(batch.length, Math.min(this.#maxInFlight, this.#link.receiveMaximum));
    const timers = new Map<number, ReturnType<typeof setTimeout>>();
    return new Promise((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        for (const timer of timers.values()) clearTimeout(timer);
        stopListening();
        resolve(window.result());
      };
      const stopListening = this.#link.onLost((reason) => {
        window.end({ kind: "lost", reason });
        finish();
      });
      const pump = () => {
        for (const index of window.take()) publishOne(index);
        if (window.done) finish();
      };
      const publishOne = (index: number) => {
        const observation = batch[index];
        let topic: string;
        try {
          topic = this.#topics.topicFor(observation.sensorId);
        } catch (error) {
          this.#stats.refused++;
          window.refused(index, (error as Error).message);
          return;
        }
        this.#stats.published++;
        timers.set(index, setTimeout(() => {
          if (!window.awaiting(index)) return;
          this.#stats.timeouts++;
          window.end({ kind: "timeout", index, afterMs: this.#ackTimeoutMs });
          finish();
          // A broker that holds one PUBACK this long is stuck; a new connection also clears MQTT.js's state of the old one.
          this.#link.drop(`no PUBACK within ${this.#ackTimeoutMs} ms`);
        }, this.#ackTimeoutMs));
        client.publish(topic, observationPayload(observation), this.#publishOptions, (error) => {
          clearTimeout(timers.get(index));
          timers.delete(index);
          if (!window.awaiting(index)) return;
          const code = (error as { code?: unknown } | undefined)?.code;
          if (!error) {
            this.#stats.acked++;
            window.acked(index);
          } else if (typeof code === "number") {
            this.#stats.refused++;
            window.refused(index, pubackRefusal(code));
          } else {
            window.end({ kind: "lost", reason: error.message });
          }
          pump();
        });
      };
      pump();
    });
  }
}

/** The connector; see MqttConnector. */
export function createMqttConnector(options: MqttConnectorOptions): MqttConnector {
  return new MqttConnector(options);
}
