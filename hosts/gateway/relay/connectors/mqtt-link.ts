/*
 * The MQTT cloud connector's connection to its broker: connects, notices
 * losses, reconnects with backoff, and says in words why it is not connected.
 *
 * Each attempt is a fresh MQTT.js client with reconnectPeriod 0 and a clean
 * session, thrown away when its connection ends. So MQTT.js never resends
 * a publish from its in-memory store after a reconnect: the gateway's SQLite
 * outbox is the only store, and the relay alone decides what to send again.
 */
import mqtt, { type IClientOptions, type IConnackPacket, type IDisconnectPacket, type MqttClient } from "mqtt";
import type { Logger } from "../../../log/logger.js";
import { describeLinkError } from "../cloud-tls.js";
import { reconnectDelayMs } from "../../ingest/external-broker-policy.js";
import { connackRefusal, disconnectReason, type CloudBrokerUrl } from "./mqtt-message.js";

/** MQTT's default when a broker sets no Receive Maximum (MQTT 5, 3.2.2.3.3); 3.1.1 brokers set none. */
const UNLIMITED_RECEIVE_MAXIMUM = 65_535;
/** How long close() waits for the broker to take a DISCONNECT before it cuts the socket. */
const CLOSE_GRACE_MS = 1000;

export class MqttLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MqttLinkError";
  }
}

export interface MqttLinkStats {
  connected: boolean;
  /** Attempts that ended before a CONNACK accepted them (refused, unreachable, TLS failure, timeout). */
  connectFailures: number;
  /** Connections established after the first. */
  reconnects: number;
  /** Why the last attempt or connection failed; null until one did. */
  lastError: string | null;
}

export interface MqttLinkOptions {
  broker: CloudBrokerUrl;
  /** Passed to MQTT.js; reconnectPeriod and clean are the link's. */
  client: IClientOptions & { protocolVersion: 4 | 5 };
  retryInitialMs: number;
  retryMaxMs: number;
  logger: Logger;
  /** Told each failure as it is recorded, so the connector's lastError is the latest of its own and the link's. */
  onError?: (message: string) => void;
}

/** MQTT.js's errors: numeric `code` for a CONNACK refusal, a string one for socket and TLS errors. */
function describe(error: Error & { code?: unknown; reason?: unknown }, protocolVersion: 4 | 5, connected: boolean, secure: boolean): string {
  if (typeof error.code === "number" && !connected) return `broker refused the connection: ${connackRefusal(error.code, protocolVersion)}`;
  return describeLinkError(error, "broker", secure);
}

export class MqttLink {
  readonly #options: MqttLinkOptions;
  readonly #log: Logger;
  readonly #stats: MqttLinkStats = { connected: false, connectFailures: 0, reconnects: 0, lastError: null };
  readonly #lostListeners = new Set<(reason: string) => void>();
  #client: MqttClient | undefined;
  /** Resolves true once the current attempt is accepted, false once it fails. */
  #attempt: Promise<boolean> = Promise.resolve(false);
  #receiveMaximum = UNLIMITED_RECEIVE_MAXIMUM;
  #everConnected = false;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Why drop() cut the current connection, for the loss it causes. */
  #dropReason: string | undefined;

  /** Starts connecting at once, in the background. */
  constructor(options: MqttLinkOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#connect();
  }

  stats(): MqttLinkStats {
    return { ...this.#stats };
  }

  /** How many QoS 1 publishes the broker takes unacknowledged (its Receive Maximum). */
  get receiveMaximum(): number {
    return this.#receiveMaximum;
  }

  /** The connected client, after an attempt in progress has settled; otherwise an MqttLinkError saying why not. */
  async ready(): Promise<MqttClient> {
    if (!this.#closed && !this.#stats.connected && this.#client !== undefined) await this.#attempt;
    if (this.#closed) throw new MqttLinkError(`${this.#options.broker.shown}: connector closed`);
    if (this.#stats.connected && this.#client) return this.#client;
    throw new MqttLinkError(`not connected to ${this.#options.broker.shown}: ${this.#stats.lastError ?? "connecting"}`);
  }

  /** `listener(reason)` runs when the current connection is lost or the link closes; returns its removal. */
  onLost(listener: (reason: string) => void): () => void {
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  /** Cuts the connection (a broker that stopped answering); the link reconnects after its backoff. */
  drop(reason: string): void {
    const client = this.#client;
    if (!client || !this.#stats.connected) return;
    this.#dropReason = reason;
    client.stream.destroy();
  }

  /** Stops reconnecting, ends any batch in flight, disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#lost("connector closed");
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    // A DISCONNECT when nothing is left unanswered (so the broker logs a clean goodbye); a stuck one gets the socket cut.
    const polite = this.#stats.connected && Object.keys(client.outgoing).length === 0;
    this.#stats.connected = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.stream.destroy();
        resolve();
      }, CLOSE_GRACE_MS);
      client.end(!polite, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #lost(reason: string): void {
    for (const listener of [...this.#lostListeners]) listener(reason);
  }

  #connect(): void {
    const { broker, client: clientOptions } = this.#options;
    const client = mqtt.connect(broker.url, { ...clientOptions, clean: true, reconnectPeriod: 0, resubscribe: false, queueQoSZero: false });
    this.#client = client;
    this.#dropReason = undefined;
    let settle: (accepted: boolean) => void = () => {};
    this.#attempt = new Promise((resolve) => (settle = resolve));
    let connected = false;
    let attemptError: string | undefined;

    client.on("connect", (connack: IConnackPacket) => {
      if (this.#client !== client) return;
      connected = true;
      this.#stats.connected = true;
      this.#failures = 0;
      if (this.#everConnected) this.#stats.reconnects++;
      this.#everConnected = true;
      this.#receiveMaximum = connack.properties?.receiveMaximum ?? UNLIMITED_RECEIVE_MAXIMUM;
      this.#log.info(`connected to cloud broker ${broker.shown}`, { url: broker.shown, receiveMaximum: this.#receiveMaximum });
      settle(true);
    });
    client.on("error", (error) => {
      attemptError = describe(error, clientOptions.protocolVersion, connected, broker.secure);
    });
    client.on("disconnect", (packet: IDisconnectPacket) => {
      const code = packet.reasonCode ?? 0;
      attemptError = `broker sent DISCONNECT: ${disconnectReason(code)}`;
    });
    client.on("close", () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      settle(false);
      const wasConnected = this.#stats.connected;
      this.#stats.connected = false;
      if (wasConnected) {
        const reason = `connection to ${broker.shown} lost: ${this.#dropReason ?? attemptError ?? "closed by the broker"}`;
        this.#stats.lastError = reason;
        this.#lost(reason);
      } else {
        this.#stats.connectFailures++;
        this.#stats.lastError = `cannot connect to ${broker.shown}: ${attemptError ?? "connection closed before CONNACK"}`;
      }
      this.#options.onError?.(this.#stats.lastError);
      // Releases MQTT.js's store and timers; the publishes it held are the outbox's to resend.
      client.end(true);
      if (this.#closed) return;
      const delay = reconnectDelayMs(this.#failures++, this.#options.retryInitialMs, this.#options.retryMaxMs);
      // A lost connection is worth a warning; each failed retry of an outage only a debug line.
      const line = `${this.#stats.lastError}; retrying in ${delay} ms`;
      if (wasConnected || this.#failures === 1) this.#log.warn(line, { url: broker.shown, retryMs: delay });
      else this.#log.debug(line, { url: broker.shown, retryMs: delay });
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#closed) this.#connect();
      }, delay);
    });
  }
}
