/*
 * DeviceDownlink (downlink.ts) over the embedded aedes broker: a sensor is
 * ready once its authenticated session has subscribed to its own downlink
 * topic — the only topic a device may subscribe to, so only its own messages
 * are readable by it — and a message to it is a QoS 1 PUBLISH to that one
 * client, settled by its PUBACK (aedes's "ack" event) or by the end of the
 * session. Reports a device publishes on its own report topic go to the
 * report handler, and are acknowledged once it has handled them.
 *
 * One message in flight per sensor: the pending-downlink dispatcher sends
 * the next only after the previous one settled, which keeps the matching of
 * PUBACKs to messages trivial and the device's receive buffer small.
 */
import type { Aedes, Client, PublishPacket, Subscription } from "aedes";
import type { Logger } from "../../log/logger.js";
import { downlinkTopic, reportTopic, type DeviceDownlink } from "./downlink.js";
import { RefusalLog } from "./refusal-log.js";

const REPORT_TOPIC = /^xsedge\/v1\/([A-Za-z0-9._:-]{1,64})\/report$/;

export class SessionEndedError extends Error {
  constructor(sensorId: string, why: string) {
    super(`the session of ${sensorId} ended before its PUBACK (${why})`);
    this.name = "SessionEndedError";
  }
}

interface InFlight {
  client: Client;
  payload: Buffer;
  resolve(): void;
  reject(error: Error): void;
}

export class AedesDownlink implements DeviceDownlink {
  readonly #log: Logger;
  readonly #refusals: RefusalLog;
  /** The client of each ready sensor. */
  readonly #ready = new Map<string, Client>();
  readonly #inFlight = new Map<string, InFlight>();
  readonly #listeners = new Set<(sensorId: string) => void>();
  #report: ((sensorId: string, payload: Uint8Array) => Promise<void>) | undefined;
  #broker: Aedes | undefined;
  /** The sensor id each client authenticated as: the broker's, so both agree. */
  readonly #sensorOf: (client: Client) => string | undefined;

  constructor(logger: Logger, sensorOf: (client: Client) => string | undefined, now?: () => number) {
    this.#log = logger;
    this.#sensorOf = sensorOf;
    this.#refusals = new RefusalLog(logger, now);
  }

  /** Follows the broker's sessions: subscribes, PUBACKs and ends. */
  attach(broker: Aedes): void {
    this.#broker = broker;
    broker.on("subscribe", (subscriptions, client) => {
      const sensorId = client ? this.#sensorOf(client) : undefined;
      if (!sensorId || !subscriptions.some((s) => s.topic === downlinkTopic(sensorId) && (s.qos as number) !== 128)) return;
      this.#ready.set(sensorId, client);
      for (const listener of this.#listeners) {
        try {
          listener(sensorId);
        } catch (error) {
          this.#log.error("downlink ready listener failed", { sensorId, error });
        }
      }
    });
    broker.on("ack", (packet, client) => {
      const sensorId = client ? this.#sensorOf(client) : undefined;
      const pending = sensorId ? this.#inFlight.get(sensorId) : undefined;
      if (!pending || pending.client !== client) return;
      // aedes gives the stored packet for a persistent session and none for a clean one; the
      // session's only QoS 1 deliveries are its downlink messages, one at a time, so either settles it.
      if (packet && "topic" in packet && (packet.topic !== downlinkTopic(sensorId!) || !Buffer.from(packet.payload as Buffer).equals(pending.payload))) return;
      this.#inFlight.delete(sensorId!);
      pending.resolve();
    });
    const ended = (client: Client, why: string) => {
      const sensorId = this.#sensorOf(client);
      if (!sensorId) return;
      if (this.#ready.get(sensorId) === client) this.#ready.delete(sensorId);
      const pending = this.#inFlight.get(sensorId);
      if (pending && pending.client === client) {
        this.#inFlight.delete(sensorId);
        pending.reject(new SessionEndedError(sensorId, why));
      }
    };
    broker.on("clientDisconnect", (client) => ended(client, "disconnected"));
    broker.on("clientError", (client, error) => ended(client, error.message));
  }

  /** The broker's authorizeSubscribe: a device may read its own downlink topic, at QoS 1 at most, and nothing else. */
  authorizeSubscribe(client: Client, sub: Subscription): Subscription | null {
    const sensorId = this.#sensorOf(client);
    if (sensorId === undefined || sub.topic !== downlinkTopic(sensorId)) return null;
    return { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 };
  }

  isReportTopic(topic: string): boolean {
    return REPORT_TOPIC.test(topic);
  }

  /**
   * A publish on a report topic. Resolves when it may be acknowledged (its
   * handler is done, or it was refused: a report on another sensor's topic,
   * or with no handler to take it); rejects when the handler failed, so the
   * device keeps the report and sends it again.
   */
  async report(client: Client | null, packet: PublishPacket, payload: Uint8Array): Promise<void> {
    const sensorId = client ? this.#sensorOf(client) : undefined;
    if (sensorId === undefined || packet.topic !== reportTopic(sensorId)) {
      this.#refusals.warn(client?.id ?? null, "wrong-sensor-report", `report on ${packet.topic} refused: ${sensorId === undefined ? "no authenticated client" : `client authenticated as ${sensorId}`}`, { topic: packet.topic });
      return;
    }
    if (!this.#report) {
      this.#refusals.warn(client!.id, "report-unhandled", `report from ${sensorId} dropped: nothing handles reports`, { sensorId });
      return;
    }
    await this.#report(sensorId, payload);
  }

  send(sensorId: string, payload: Uint8Array): Promise<void> {
    const client = this.#ready.get(sensorId);
    if (!client || !this.#broker) return Promise.reject(new SessionEndedError(sensorId, "no session subscribed to its downlink"));
    if (this.#inFlight.has(sensorId)) return Promise.reject(new Error(`a message to ${sensorId} is already awaiting its PUBACK`));
    return new Promise<void>((resolve, reject) => {
      const bytes = Buffer.from(payload);
      this.#inFlight.set(sensorId, { client, payload: bytes, resolve, reject });
      client.publish({ cmd: "publish", topic: downlinkTopic(sensorId), payload: bytes, qos: 1, retain: false, dup: false }, (error?: Error | null) => {
        if (!error) return;
        const pending = this.#inFlight.get(sensorId);
        if (pending?.client === client) {
          this.#inFlight.delete(sensorId);
          reject(error);
        }
      });
    });
  }

  isReady(sensorId: string): boolean {
    return this.#ready.has(sensorId);
  }

  onReady(listener: (sensorId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onReport(handler: (sensorId: string, payload: Uint8Array) => Promise<void>): void {
    this.#report = handler;
  }
}
