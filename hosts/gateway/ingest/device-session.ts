/*
 * One device's MQTT session after its CONNACK 0: what each packet it sends
 * does. Its own uplink topic's publishes go to the outbox and are
 * acknowledged once committed; its report topic's go to the report handler
 * (downlink.ts); SUBSCRIBE is granted for its own downlink topic only;
 * PINGREQ, DISCONNECT, and the PUBACKs of messages sent to it. Everything
 * else closes the connection, counted by reason.
 *
 * The PUBACKs of one group commit go out in one write per connection: the
 * session collects the message ids answered and the listener flushes every
 * session that has some once the commit's outcomes are all in
 * (`flushAcks`). A session with `maxInFlight` publishes awaiting their
 * commit reads no further (the frame reader keeps its place, the socket is
 * paused) until some are answered: TCP then slows the device down, and
 * memory per connection stays bounded.
 *
 * Why a refused payload is acknowledged (and a failed commit is not): see
 * ingest.ts and the listener's header. No sockets here: the connection
 * (device-connection.ts) is behind `SessionIo`.
 */
import type { Logger } from "../../log/logger.js";
import type { DeviceAuth } from "./device-auth.js";
import { downlinkTopic, reportTopic } from "./downlink.js";
import type { IngestOutcome, PublishInput } from "./ingest.js";
import { uplinkTopic } from "./ingest.js";
import type { ListenerRefusal, ListenerStats } from "./listener-stats.js";
import {
  DISCONNECT, PINGREQ, PINGRESP_BYTES, PUBACK, PUBLISH, SUBACK_FAILURE, SUBSCRIBE, UNSUBSCRIBE, downlinkPublishBytes,
  readPublishHeader, subackBytes, unsubackBytes, writePuback, type PublishHeader,
} from "./mqtt-wire.js";
import { grantSubscriptions, readSubscription } from "./subscriptions.js";
import { OutboxRefusal } from "./outbox.js";
import type { RefusalLog } from "./refusal-log.js";

/** Where the session's publishes go: the outbox (outbox.ts), which calls `done` once with each one's outcome, after its commit. */
export interface PublishIntake {
  offer<T extends PublishInput>(input: T, done: (outcome: IngestOutcome, input: T) => void): void;
}

export type ReportHandler = (sensorId: string, payload: Uint8Array) => Promise<void>;

/** The connection under a session. */
export interface SessionIo {
  write(bytes: Buffer): void;
  /** Ends the connection: at once, or (`graceful`) once what was written has gone out. */
  close(graceful?: boolean): void;
  /** Stop and start reading from the socket. */
  pause(): void;
  resume(): void;
  /** Goes on reading frames the reader kept when the session paused it. */
  readKept(): void;
}

/** What the listener gives every session. */
export interface SessionHost {
  readonly intake: PublishIntake;
  readonly auth: DeviceAuth;
  readonly stats: ListenerStats;
  readonly refusals: RefusalLog;
  readonly log: Logger;
  readonly maxInFlight: number;
  report(): ReportHandler | undefined;
  /** The session has PUBACKs to write or may read again: flush it once the current commit's outcomes are all in. */
  needsFlush(session: DeviceSession): void;
  /** The session became subscribed to its downlink topic. */
  downlinkReady(session: DeviceSession): void;
  /** A refusal that ends the connection, counted and logged (throttled) by the listener. */
  refuse(reason: ListenerRefusal, clientId: string | null, message: string): void;
}

/** What outlives a connection with clean session 0 [MQTT-3.1.2-4]: whether the device's downlink subscription stands. */
export interface SessionState {
  subscribed: boolean;
}

/** Downlink messages a device may have unacknowledged at once; its own client reads one packet at a time. */
export const MAX_DOWNLINK_IN_FLIGHT = 16;

/** A publish on its way to the outbox: the input, with what answering it needs (one object per publish, no closure). */
class SessionPublish implements PublishInput {
  constructor(
    readonly topic: string,
    readonly payload: Uint8Array,
    readonly clientId: string,
    readonly authenticatedAs: string,
    readonly messageId: number,
    readonly session: DeviceSession,
  ) {}
}

function answered(outcome: IngestOutcome, publish: SessionPublish): void {
  publish.session.answer(publish.messageId, outcome);
}

export class DeviceSession {
  readonly sensorId: string;
  readonly state: SessionState;
  /** 0: none. */
  readonly keepAliveMs: number;
  readonly #host: SessionHost;
  readonly #io: SessionIo;
  readonly #uplinkTopic: string;
  readonly #uplinkBytes: Buffer;
  readonly #reportBytes: Buffer;
  readonly #downlinkTopic: string;
  readonly #header: PublishHeader = { qos: 0, retain: false, dup: false, topicStart: 0, topicEnd: 0, messageId: 0, payloadStart: 0 };
  /** Message ids answered and not yet written (PUBACKs of the current commit). */
  #acks: number[] = [];
  #inFlight = 0;
  #paused = false;
  #closed = false;
  readonly #downlink = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextDownlinkId = 1;

  constructor(host: SessionHost, io: SessionIo, sensorId: string, state: SessionState, keepAliveMs: number) {
    this.#host = host;
    this.#io = io;
    this.sensorId = sensorId;
    this.state = state;
    this.keepAliveMs = keepAliveMs;
    this.#uplinkTopic = uplinkTopic(sensorId);
    this.#uplinkBytes = Buffer.from(this.#uplinkTopic);
    this.#reportBytes = Buffer.from(reportTopic(sensorId));
    this.#downlinkTopic = downlinkTopic(sensorId);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Publishes read and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The frame sink (mqtt-frame-reader.ts): false asks the reader to pause. */
  readonly frame = (first: number, bytes: Buffer, start: number, end: number): boolean => {
    if (this.#closed) return false;
    switch (first >> 4) {
      case PUBLISH:
        return this.#publish(first, bytes, start, end);
      case PUBACK:
        return this.#puback(bytes, start, end);
      case PINGREQ:
        this.#io.write(PINGRESP_BYTES);
        return true;
      case SUBSCRIBE:
      case UNSUBSCRIBE:
        return this.#subscribe(first, bytes, start, end);
      case DISCONNECT:
        // The will, had there been one, is discarded [MQTT-3.14.4-3]; we never keep wills anyway.
        this.end(true);
        return false;
      default:
        return this.#violation("unexpected-packet", `packet type ${first >> 4} from a device after CONNECT`);
    }
  };

  /** An outcome from the outbox for the publish with `messageId` (0: QoS 0, nothing to acknowledge). */
  answer(messageId: number, outcome: IngestOutcome): void {
    this.#inFlight--;
    if (this.#closed) return;
    if (outcome.kind === "failed") {
      // No PUBACK: the device keeps the record and sends it again later. The outbox logged an overload refusal already.
      if (!(outcome.error instanceof OutboxRefusal)) {
        this.#host.refusals.warn(this.sensorId, "dropped", `client ${this.sensorId} dropped: ${outcome.error.message}`, { clientId: this.sensorId, error: outcome.error });
      }
      this.end(false);
      return;
    }
    if (outcome.kind === "refused" && outcome.reason === "wrong-sensor") this.#host.auth.countWrongSensor();
    this.#acknowledge(messageId);
  }

  /** Writes the PUBACKs collected since the last flush in one write, and reads on if the session had paused. */
  flushAcks(): void {
    if (this.#closed) return;
    const acks = this.#acks;
    if (acks.length > 0) {
      const out = Buffer.allocUnsafe(4 * acks.length);
      for (let i = 0; i < acks.length; i++) writePuback(out, 4 * i, acks[i]);
      acks.length = 0;
      this.#io.write(out);
    }
    if (this.#paused && this.#inFlight < this.#host.maxInFlight) {
      this.#paused = false;
      // resume() delivers further chunks only on a later tick: the frames kept go first, and may pause the session again.
      this.#io.resume();
      this.#io.readKept();
    }
  }

  /** A QoS 1 PUBLISH on the device's downlink topic; resolves on its PUBACK. */
  sendDownlink(payload: Uint8Array, maxPacketBytes: number): Promise<void> {
    if (this.#closed || !this.state.subscribed) return Promise.reject(new Error(`${this.sensorId} has no session subscribed to ${this.#downlinkTopic}`));
    if (this.#downlink.size >= MAX_DOWNLINK_IN_FLIGHT) return Promise.reject(new Error(`${this.sensorId} already has ${MAX_DOWNLINK_IN_FLIGHT} downlink messages unacknowledged`));
    let id = this.#nextDownlinkId;
    while (this.#downlink.has(id)) id = id === 65_535 ? 1 : id + 1;
    this.#nextDownlinkId = id === 65_535 ? 1 : id + 1;
    const bytes = downlinkPublishBytes(this.#downlinkTopic, id, payload, false);
    // The device's limit is its own; ours keeps a message within what a device of ours reads.
    if (bytes.length > maxPacketBytes) return Promise.reject(new RangeError(`downlink message of ${bytes.length} bytes exceeds mqtt.maxPacketBytes (${maxPacketBytes})`));
    this.#host.stats.downlink.sent++;
    this.#io.write(bytes);
    return new Promise((resolve, reject) => this.#downlink.set(id, { resolve, reject }));
  }

  /** Closes the connection (gracefully: after what was written) and fails what the device had yet to acknowledge. */
  end(graceful: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#io.close(graceful);
    this.ended();
  }

  /** The connection is gone (whoever closed it): downlink messages in flight fail. Idempotent. */
  ended(): void {
    this.#closed = true;
    if (this.#downlink.size === 0) return;
    const error = new Error(`session of ${this.sensorId} ended before its PUBACK`);
    for (const { reject } of this.#downlink.values()) {
      this.#host.stats.downlink.failed++;
      reject(error);
    }
    this.#downlink.clear();
  }

  #publish(first: number, bytes: Buffer, start: number, end: number): boolean {
    const header = this.#header;
    const fault = readPublishHeader(first, bytes, start, end, header);
    if (fault !== null) return this.#violation("malformed", fault);
    if (header.qos === 2) return this.#violation("qos2", `QoS 2 publish from ${this.sensorId}: devices publish at QoS 1 (modules/SPEC.md)`);
    if (header.retain) {
      this.#host.stats.retainIgnored++;
      this.#host.refusals.warn(this.sensorId, "retain", `publish from ${this.sensorId} has the retain flag: stored as any other, never retained`, { clientId: this.sensorId });
    }
    const { topicStart, topicEnd, messageId } = header;
    const payload = bytes.subarray(header.payloadStart, end);
    let topic: string;
    if (this.#uplinkBytes.compare(bytes, topicStart, topicEnd) === 0) topic = this.#uplinkTopic;
    else if (this.#reportBytes.compare(bytes, topicStart, topicEnd) === 0 && this.#host.report() !== undefined) return this.#reportPublish(messageId, payload);
    else topic = bytes.toString("utf8", topicStart, topicEnd);
    this.#inFlight++;
    this.#host.intake.offer(new SessionPublish(topic, payload, this.sensorId, this.sensorId, messageId, this), answered);
    return this.#mayReadOn();
  }

  #reportPublish(messageId: number, payload: Buffer): boolean {
    const handler = this.#host.report()!;
    const stats = this.#host.stats.reports;
    stats.received++;
    this.#inFlight++;
    // The handler may keep the bytes; the chunk they are a view of is not reused, but copy so it need not hold the whole chunk.
    handler(this.sensorId, Uint8Array.from(payload)).then(
      () => {
        stats.handled++;
        this.#inFlight--;
        if (!this.#closed) this.#acknowledge(messageId);
      },
      (error: Error) => {
        stats.failed++;
        this.#inFlight--;
        if (this.#closed) return;
        // No PUBACK, as for a failed commit: the device keeps the report and sends it again.
        this.#host.refusals.warn(this.sensorId, "report-failed", `report from ${this.sensorId} not handled: ${error?.message ?? error}; disconnecting it, unacknowledged`, { clientId: this.sensorId });
        this.end(false);
      },
    );
    return this.#mayReadOn();
  }

  #acknowledge(messageId: number): void {
    if (messageId !== 0) this.#acks.push(messageId);
    if (messageId !== 0 || this.#paused) this.#host.needsFlush(this);
  }

  #mayReadOn(): boolean {
    if (this.#inFlight < this.#host.maxInFlight) return true;
    this.#paused = true;
    this.#io.pause();
    return false;
  }

  #puback(bytes: Buffer, start: number, end: number): boolean {
    if (end - start !== 2) return this.#violation("malformed", "PUBACK with a remaining length other than 2");
    const id = bytes.readUInt16BE(start);
    const waiting = this.#downlink.get(id);
    // A PUBACK for nothing in flight (a retry after we gave up on it) is harmless.
    if (waiting !== undefined) {
      this.#downlink.delete(id);
      this.#host.stats.downlink.acked++;
      waiting.resolve();
    }
    return true;
  }

  #subscribe(first: number, bytes: Buffer, start: number, end: number): boolean {
    const packet = readSubscription(first, bytes, start, end);
    if (typeof packet === "string") return this.#violation("malformed", packet);
    if (packet.cmd === "unsubscribe") {
      if (packet.unsubscriptions.includes(this.#downlinkTopic)) this.state.subscribed = false;
      this.#io.write(unsubackBytes(packet.messageId ?? 0));
      return true;
    }
    const { granted, denied } = grantSubscriptions(packet.subscriptions, this.#downlinkTopic);
    for (const topic of denied) {
      this.#host.stats.refusedByReason["subscribe-denied"]++;
      this.#host.refusals.warn(this.sensorId, "subscribe-denied", `subscribe denied for ${this.sensorId}: ${topic.slice(0, 256)}`, { clientId: this.sensorId, topic: topic.slice(0, 256) });
    }
    this.#io.write(subackBytes(packet.messageId ?? 0, granted));
    if (granted.some((code) => code !== SUBACK_FAILURE)) {
      this.state.subscribed = true;
      this.#host.downlinkReady(this);
    }
    return true;
  }

  #violation(reason: ListenerRefusal, detail: string): false {
    this.#host.refuse(reason, this.sensorId, `closing the connection of ${this.sensorId}: ${detail}`);
    this.end(false);
    return false;
  }
}
