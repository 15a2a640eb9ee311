/*
 * Store-and-forward: every record goes into the flash log first, and the
 * uplink publishes the oldest ones with QoS 1, releasing each from the log
 * only when the broker has acknowledged it and everything before it. A
 * reboot resumes from the oldest unacknowledged record, because that is
 * what the log still holds.
 *
 * Reports on downlinks (their first element FIRST_REPORT_KIND or more,
 * modules/downlink/messages.ts) travel through the same log, so they survive
 * a reboot too, and go out on the report topic.
 *
 * Records are released strictly oldest first (the log's rule), so an
 * acknowledgement that arrives out of order waits until the ones before it
 * arrive too. The MQTT client keeps its in-flight copies across a reconnect
 * and sends them again itself, so the uplink only ever reads forward.
 */
import type { LogCursor } from "../storage/log-cursor.js";
import { FIRST_REPORT_KIND } from "../downlink/messages.js";

/** The part of MqttClient the uplink drives. */
export interface UplinkClient {
  readonly connected: boolean;
  readonly inFlight: number;
  publish(topic: string, payload: Uint8Array, token?: unknown): boolean;
}

/** The part of FlashLog the uplink uses. */
export interface UplinkLog {
  readonly records: number;
  append(record: Uint8Array, length?: number): boolean;
  cursor(): LogCursor;
  next(cursor: LogCursor, into: Uint8Array): number;
  release(position: number): number;
}

export interface UplinkStats {
  logged: number;
  refused: number;
  published: number;
  released: number;
  anchorsSent: number;
  releaseErrors: number;
}

/** A token for records that are not in the log (a connect-time clock anchor): nothing to release. */
const NOT_LOGGED = -1;
const NONE = -1;

export class Uplink {
  readonly stats: UplinkStats = { logged: 0, refused: 0, published: 0, released: 0, anchorsSent: 0, releaseErrors: 0 };
  readonly #log: UplinkLog;
  readonly #topic: string;
  readonly #reportTopic: string;
  readonly #maxInFlight: number;
  readonly #buffer: Uint8Array;
  readonly #cursor: LogCursor;
  /** Positions published and not yet released, in publish order, with their acknowledgement. */
  readonly #positions: Float64Array;
  readonly #acked: Uint8Array;
  #head = 0;
  #count = 0;
  #client: UplinkClient | undefined;

  /** `reportTopic`: where reports go; the record topic when not given. */
  constructor(options: { log: UplinkLog; topic: string; reportTopic?: string; maxInFlight: number; maxRecordBytes: number }) {
    this.#log = options.log;
    this.#topic = options.topic;
    this.#reportTopic = options.reportTopic ?? options.topic;
    this.#maxInFlight = options.maxInFlight;
    this.#buffer = new Uint8Array(options.maxRecordBytes);
    this.#cursor = options.log.cursor();
    this.#positions = new Float64Array(options.maxInFlight);
    this.#acked = new Uint8Array(options.maxInFlight);
  }

  /** The client is made after the uplink, because its callbacks lead here. */
  attach(client: UplinkClient): void {
    this.#client = client;
  }

  /** Stores a record durably, then sends what the window allows. False: the log refused it (full, refuse-newest). */
  record(bytes: Uint8Array): boolean {
    if (!this.#log.append(bytes)) {
      this.stats.refused++;
      return false;
    }
    this.stats.logged++;
    this.pump();
    return true;
  }

  /**
   * Sends a record that is only meaningful on this connection (the gateway's
   * clock stands in for a device without one), ahead of the backlog.
   */
  sendEphemeral(bytes: Uint8Array): boolean {
    const sent = this.#client?.publish(this.#topicOf(bytes), bytes, NOT_LOGGED) ?? false;
    if (sent) this.stats.anchorsSent++;
    return sent;
  }

  /** Publishes the oldest unsent records while the client has room. */
  pump(): void {
    const client = this.#client;
    const cursor = this.#cursor;
    while (client && client.connected && client.inFlight < this.#maxInFlight && this.#count < this.#maxInFlight) {
      const { seq, offset, position: before } = cursor;
      const length = this.#log.next(cursor, this.#buffer);
      if (length === NONE) return;
      const position = cursor.position;
      // The client copies the packet into its own slot, so the buffer is free again at once.
      const record = this.#buffer.subarray(0, length);
      if (!client.publish(this.#topicOf(record), record, position)) {
        // Not expected with room in the window; if it happens, read this record again next time.
        cursor.seq = seq;
        cursor.offset = offset;
        cursor.position = before;
        return;
      }
      this.#positions[(this.#head + this.#count) % this.#maxInFlight] = position;
      this.#acked[(this.#head + this.#count) % this.#maxInFlight] = 0;
      this.#count++;
      this.stats.published++;
    }
  }

  /** A record's first element, after its array head of one byte (up to 23 items) or two (up to 255). */
  #topicOf(record: Uint8Array): string {
    const kind = record[(record[0] & 0x1f) < 24 ? 1 : 2];
    return kind >= FIRST_REPORT_KIND ? this.#reportTopic : this.#topic;
  }

  /** The broker acknowledged the record behind `token`. */
  acknowledged(token: unknown): void {
    if (token === NOT_LOGGED || typeof token !== "number") return;
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head + i) % this.#maxInFlight;
      if (this.#positions[slot] === token) {
        this.#acked[slot] = 1;
        break;
      }
    }
    let newest = NONE;
    while (this.#count > 0 && this.#acked[this.#head] === 1) {
      newest = this.#positions[this.#head];
      this.#head = (this.#head + 1) % this.#maxInFlight;
      this.#count--;
    }
    if (newest !== NONE) {
      try {
        this.stats.released += this.#log.release(newest);
      } catch {
        // A position the log no longer knows (dropped when full): nothing left to release.
        this.stats.releaseErrors++;
      }
    }
    this.pump();
  }
}
