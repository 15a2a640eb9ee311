/*
 * Ingest from an external MQTT broker (mosquitto) instead of the embedded
 * one: devices connect to the broker, which authenticates them (password
 * file, ACL: see mosquitto/), and the gateway is one MQTT.js client of it.
 *
 * Never losing an acknowledged observation rests on three things:
 * - a fixed client id with clean: false, so the broker keeps the gateway's
 *   subscription and queues QoS 1 messages while the gateway is away;
 * - the PUBACK is sent only after the commit, and only on the connection
 *   the message came on (message ids are per connection). MQTT.js handles
 *   one publish at a time: it calls `handleMessage` and reads the next only
 *   after the callback, then writes the PUBACK itself. Waiting there for the
 *   commit would cost every message an fsync of its own, so `handleMessage`
 *   hands the publish to the outbox and calls back at once with an error,
 *   which makes MQTT.js send no PUBACK and go on with the next packet (no
 *   'error' event: see handlers/publish.js and connect()'s work loop in
 *   client.js, MQTT.js 5). The PUBACK is written here (mqtt-packet) once the
 *   commit resolves, if that connection is still the current one and open;
 *   QoS 1 PUBACKs may go in any order. `customHandleAcks` would not help: it
 *   is ignored unless protocolVersion is 5, and runs in the same one-at-a-
 *   time chain;
 * - after a failed commit the connection is dropped and reopened: the broker
 *   resends unacknowledged messages of a persistent session on reconnect
 *   (DUP set). Messages of that connection whose commit settles later, or
 *   that were still queued in MQTT.js, are left unacknowledged too, so they
 *   come back with it; a redelivered message already stored is a duplicate,
 *   acknowledged and not stored again.
 *
 * Memory stays bounded: at most MAX_UNACKED_EXTERNAL messages await their
 * commit (unacked-window.ts); at that bound `handleMessage` holds its
 * callback, so MQTT.js stops reading the socket. The broker's own window
 * (max_inflight_messages, mosquitto: 20 by default) usually binds first. The
 * client's incomingStore is used only for QoS 2, which the QoS 1
 * subscription never receives.
  */
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import mqttPacket from "mqtt-packet";
import type { Logger } from "../../log/logger.js";
import type { IngestOutcome, PublishInput } from "./ingest.js";
import type { ObservationStore } from "../store/observation-store.js";
import { RefusalLog } from "./refusal-log.js";
import type { SensorRegistry } from "./sensor-registry.js";
import { UnackedWindow } from "./unacked-window.js";
import {
  ackDecision, type ExternalOutcome, DEFAULT_CLIENT_ID, DEFAULT_TOPIC, ingestClientId, parseBrokerUrl, reconnectDelayMs, RECONNECT_INITIAL_MS, RECONNECT_MAX_MS, topicSensorId,
} from "./external-broker-policy.js";

/** Where publishes go: the outbox (outbox.ts), which answers once the publish is committed. */
export interface PublishIntake {
  submit(input: PublishInput): Promise<IngestOutcome>;
}

/** `startGateway({ externalBroker })`: where the devices' broker is and how the gateway logs in. */
export interface ExternalBrokerOptions {
  /** mqtt://host:port or mqtts://host:port (TLS); credentials in it are used, never shown. */
  url: string;
  username?: string;
  password?: string;
  /** PEM files, read once at start. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Default "xsedge-gateway"; must stay the same across restarts (persistent session). */
  clientId?: string;
  /** Default "xsedge/v1/+/up". */
  topic?: string;
  /** First delay before reconnecting; doubles up to reconnectMaxMs. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
}

export interface ExternalBrokerStats {
  connected: boolean;
  /** The broker granted the subscription on this connection (false until its SUBACK, or if its ACL refused it). */
  subscribed: boolean;
  /** Without password. */
  url: string;
  /** Publishes received from the broker (a resent one counts again). */
  messages: number;
  /** PUBACKs written after their commit (stored, duplicate or refused and quarantined). */
  acked: number;
  /**
   * Left unacknowledged for the broker to resend: their commit failed, or
   * came on a connection on which one did, or the connection they came on
   * was gone when their commit settled.
   */
  notAcked: number;
  /** Handed to the outbox and awaiting their commit now (at most MAX_UNACKED_EXTERNAL). */
  awaitingCommit: number;
  /** The most ever awaiting their commit at once: above 1, messages shared group commits. */
  largestAwaitingCommit: number;
  /** Unregistered sensors' publishes, refused and quarantined here (the registry is the gateway's, not the broker's). */
  unregistered: number;
  reconnects: number;
  lastError: string | null;
}

export interface ExternalIngestOptions {
  broker: ExternalBrokerOptions;
  /** The outbox: group commit, backpressure and the per-sensor rate limit apply as for the embedded broker. */
  ingest: PublishIntake;
  store: ObservationStore;
  registry?: SensorRegistry;
  logger: Logger;
  now?: () => number;
  /** Called after a commit that stored observations (the relay sends promptly). */
  onStored?: () => void;
}

export interface ExternalIngest {
  stats(): ExternalBrokerStats;
  /** Disconnects (the broker keeps the session and queues meanwhile). Idempotent. */
  close(): Promise<void>;
}

/** One connection to the broker: a PUBACK belongs on the one its publish came on. */
type Connection = MqttClient["stream"];

/** Seconds between pings: a broker host that vanished is noticed within 1.5 × this. */
const KEEPALIVE_S = 30;
/** A broker that accepts TCP but sends no CONNACK is given up on after this long. */
const CONNECT_TIMEOUT_MS = 10_000;

function readPem(field: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`externalBroker.${field}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Starts connecting (in the background; see stats().connected). Throws on a bad URL or an unreadable TLS file. */
export function startExternalIngest(options: ExternalIngestOptions): ExternalIngest {
  const config = options.broker;
  const log = options.logger;
  const now = options.now ?? Date.now;
  const target = parseBrokerUrl(config.url);
  const clientId = config.clientId ?? DEFAULT_CLIENT_ID;
  // Publishes for an unregistered sensor: one line per sensor per interval, however fast they come.
  const refusals = new RefusalLog(log, now);
  const topic = config.topic ?? DEFAULT_TOPIC;
  const clientOptions: IClientOptions = {
    clientId,
    clean: false,
    protocolVersion: 4,
    username: config.username ?? target.username,
    password: config.password ?? target.password,
    ca: readPem("caFile", config.caFile),
    cert: readPem("certFile", config.certFile),
    key: readPem("keyFile", config.keyFile),
    keepalive: KEEPALIVE_S,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Reconnects are driven here, with backoff; MQTT.js only has a fixed period.
    reconnectPeriod: 0,
    // The subscription is renewed on every CONNACK below.
    resubscribe: false,
  };
  const stats: ExternalBrokerStats = {
    connected: false, subscribed: false, url: target.shown, messages: 0, acked: 0, notAcked: 0, awaitingCommit: 0, largestAwaitingCommit: 0,
    unregistered: 0, reconnects: 0, lastError: null,
  };
  // Attempts since the last CONNACK, and commits failed since the last one that worked: a store
  // that keeps failing backs off like a broker that keeps refusing, although each reconnect succeeds.
  let attempt = 0;
  let commitFailures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closing = false;
  let loggedError: string | null = null;
  // The connection on which a commit failed: nothing more on it is acknowledged.
  let failedStream: Connection | undefined;
  const unacked = new UnackedWindow();

  const client: MqttClient = mqtt.connect(target.url, clientOptions);
  log.info(`connecting to external broker ${target.shown} as ${clientId}`, { url: target.shown, clientId, topic });

  // Calling back with an error makes MQTT.js write no PUBACK: acknowledge() writes it after the commit.
  const ACK_AFTER_COMMIT = new Error("acknowledged after its commit");
  client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void) => {
    const stream = client.stream;
    const settled = receive(packet, stream);
    unacked.enter(() => callback(ACK_AFTER_COMMIT));
    void settled.then((release) => {
      if (release) acknowledge(packet, stream);
      else stats.notAcked++;
      unacked.settle();
    });
  };

  /** Whether the message may be acknowledged: committed (or refused and quarantined) on a connection without a failed commit. */
  async function receive(packet: IPublishPacket, stream: Connection): Promise<boolean> {
    stats.messages++;
    if (stream === failedStream) return false;
    let outcome: ExternalOutcome;
    try {
      const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      const sensorId = topicSensorId(packet.topic);
      const input: PublishInput = { topic: packet.topic, payload, clientId: ingestClientId(sensorId) };
      outcome = sensorId !== undefined && options.registry && !options.registry.isRegistered(sensorId)
        ? refuseUnregistered(input, sensorId)
        : await options.ingest.submit(input);
    } catch (e) {
      outcome = { kind: "failed", error: e instanceof Error ? e : new Error(String(e)) };
    }
    if (ackDecision(outcome) === "ack") {
      commitFailures = 0;
      if (outcome.kind === "stored" || (outcome.kind === "batch" && outcome.stored > 0)) options.onStored?.();
      return true;
    }
    commitFailures++;
    if (outcome.kind === "failed") stats.lastError = `commit failed: ${outcome.error.message}`;
    // Once per connection: every message awaiting its commit on it may fail the same way.
    if (failedStream !== stream) log.warn("commit failed: not acknowledging; reconnecting so the broker resends", { topic: packet.topic.slice(0, 256), messageId: packet.messageId });
    failedStream = stream;
    if (client.stream === stream) client.stream.destroy();
    return false;
  }

  /**
   * The PUBACK, on the connection the message came on and only while it is
   * the current one and open: a message id means nothing on another
   * connection, and the broker resends what a lost connection left
   * unacknowledged. QoS 0 messages need none.
   */
  function acknowledge(packet: IPublishPacket, stream: Connection): void {
    if (packet.qos === 0) {
      stats.acked++;
      return;
    }
    if (stream !== client.stream || stream === failedStream || stream.destroyed || !stream.writable || packet.messageId === undefined) {
      stats.notAcked++;
      return;
    }
    // reasonCode 0 lets MQTT 5 use the 2-byte form; MQTT 3.1.1 has no reason code.
    stream.write(mqttPacket.generate({ cmd: "puback", messageId: packet.messageId, reasonCode: 0 }, { protocolVersion: clientOptions.protocolVersion }));
    stats.acked++;
  }

  function refuseUnregistered(input: PublishInput, sensorId: string): ExternalOutcome {
    const detail = `sensor "${sensorId}" is not registered with the gateway`;
    try {
      const quarantineId = options.store.quarantine({ receivedAt: now(), clientId: input.clientId, topic: input.topic, reason: "unregistered", field: "topic", detail, payload: input.payload });
      stats.unregistered++;
      refusals.warn(input.clientId, "unregistered", `refused publish from ${input.clientId}: unregistered (topic): ${detail}`, {
        clientId: input.clientId, topic: input.topic.slice(0, 256), reason: "unregistered", bytes: input.payload.byteLength, quarantineId,
      });
      return { kind: "unregistered", sensorId };
    } catch (e) {
      log.error("could not quarantine publish; not acknowledging it", { clientId: input.clientId, error: e });
      return { kind: "failed", error: e instanceof Error ? e : new Error(String(e)) };
    }
  }

  client.on("connect", (connack) => {
    attempt = 0;
    stats.connected = true;
    loggedError = null;
    log.info(`connected to external broker ${target.shown}`, { url: target.shown, clientId, sessionPresent: connack.sessionPresent });
    client.subscribe(topic, { qos: 1 }, (error, granted) => {
      // An error here is the connection closing before the SUBACK: the next CONNACK subscribes again.
      if (error) return;
      if (granted?.some((g) => g.qos === 128)) {
        stats.lastError = `subscribe ${topic} refused (SUBACK 0x80): check the broker's ACL for this user`;
        log.error(stats.lastError, { url: target.shown, topic });
      } else stats.subscribed = true;
    });
  });

  client.on("error", (error) => {
    stats.lastError = error.message;
    // Once per change: a broker that is down fails every attempt the same way.
    if (error.message !== loggedError) {
      loggedError = error.message;
      log.warn(`external broker ${target.shown}: ${error.message}`, { url: target.shown });
    }
  });

  client.on("close", () => {
    stats.subscribed = false;
    if (stats.connected) {
      stats.connected = false;
      log.warn(`disconnected from external broker ${target.shown}`, { url: target.shown });
    }
    if (closing || timer) return;
    const delay = reconnectDelayMs(attempt++ + commitFailures, config.reconnectInitialMs ?? RECONNECT_INITIAL_MS, config.reconnectMaxMs ?? RECONNECT_MAX_MS);
    timer = setTimeout(() => {
      timer = undefined;
      if (closing) return;
      stats.reconnects++;
      client.reconnect();
    }, delay);
  });

  let closed: Promise<void> | undefined;
  return {
    stats: () => ({ ...stats, awaitingCommit: unacked.awaiting, largestAwaitingCommit: unacked.largest }),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        closing = true;
        clearTimeout(timer);
        client.end(false, {}, () => resolve());
      }).then(() => log.info("external broker client stopped", { url: target.shown }))),
  };
}
