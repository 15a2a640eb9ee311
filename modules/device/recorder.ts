/*
 * From readings to records in the flash log: each observation gets the next
 * sequence number and this boot's uptime, and joins its stream's batch (one
 * stream per sensor, one for the app's own records, so that sensors sampled
 * at different rates each fill batches of their own). A batch is written to
 * the log, and so handed to the uplink, when the next observation would not
 * fit, when its first one is `batchMaxAgeMs` old, or at once when the app
 * asks for it (an event that must go out now). The boot's clock anchor goes
 * into the log before the first observation recorded with a set clock.
 */
import { BatchWriter } from "../observation/batch-writer.js";
import { CborWriter } from "../observation/cbor-writer.js";
import { CLOCK_SYNCED_AFTER_MS, MAX_RECORD_BYTES, writeClockAnchor, type Observation, type Reading } from "../observation/record.js";
import type { Uplink } from "./uplink.js";

/** Streams a device may have: its sensors and the app's own records. Each holds about 510 bytes of batch buffers. */
export const MAX_STREAMS = 9;

export interface RecorderTimers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface RecorderOptions {
  sensorId: string;
  boot: number;
  nextSeq: () => number;
  uplink: Uplink;
  /** Monotonic milliseconds since boot. */
  uptime: () => number;
  /** Wall clock, ms since the epoch: a value after CLOCK_SYNCED_AFTER_MS means it was set. */
  wallNow: () => number;
  timers: RecorderTimers;
  /** The current batchMaxAgeMs (a setting the gateway may change). */
  batchMaxAgeMs: () => number;
}

export interface Stream {
  readonly batch: BatchWriter;
  readonly observation: Observation;
  timer: unknown;
}

export class Recorder {
  readonly #o: RecorderOptions;
  readonly #streams: Stream[] = [];
  readonly #anchorWriter = new CborWriter(MAX_RECORD_BYTES);
  #anchored = false;

  constructor(options: RecorderOptions) {
    this.#o = options;
  }

  /** Whether this boot's clock anchor is in the log (a device without a set clock never logs one). */
  get anchored(): boolean {
    return this.#anchored;
  }

  /** A stream of its own, for a sensor or for the app's records. */
  stream(): Stream {
    if (this.#streams.length === MAX_STREAMS) throw new RangeError(`a device records at most ${MAX_STREAMS} streams (sensors and the app's own)`);
    const stream: Stream = {
      batch: new BatchWriter(MAX_RECORD_BYTES),
      observation: { sensorId: this.#o.sensorId, seq: 0, boot: this.#o.boot, uptimeMs: 0, readings: [] },
      timer: undefined,
    };
    this.#streams.push(stream);
    return stream;
  }

  /**
   * Records `count` readings as one observation of `stream` and returns its
   * seq; `now`: the batch is written and sent at once. Throws
   * ObservationError for readings a record cannot carry.
   */
  record(stream: Stream, readings: Reading[], count: number, now = false): number {
    this.#anchor();
    const o = this.#o;
    const observation = stream.observation;
    observation.readings = readings;
    observation.seq = o.nextSeq();
    observation.uptimeMs = o.uptime();
    if (!stream.batch.add(observation, count)) {
      this.#write(stream);
      stream.batch.add(observation, count);
    }
    const age = o.batchMaxAgeMs();
    if (now || age === 0) this.#write(stream);
    else if (stream.timer === undefined) stream.timer = o.timers.set(() => this.#aged(stream), age);
    return observation.seq;
  }

  /** Writes every open batch to the log: a flush command, or before a reboot. */
  flush(): void {
    for (const stream of this.#streams) this.#write(stream);
  }

  /** A one-shot timer that fired is gone: forget it rather than clear it. */
  #aged(stream: Stream): void {
    stream.timer = undefined;
    this.#write(stream);
  }

  #write(stream: Stream): void {
    if (stream.timer !== undefined) this.#o.timers.clear(stream.timer);
    stream.timer = undefined;
    if (stream.batch.count > 0) this.#o.uplink.record(stream.batch.finish());
  }

  /** The first set clock of this boot goes into the log, so the backlog carries its own wall time. */
  #anchor(): void {
    if (this.#anchored) return;
    const wallMs = this.#o.wallNow();
    if (wallMs < CLOCK_SYNCED_AFTER_MS) return;
    const { sensorId, boot } = this.#o;
    this.#anchored = this.#o.uplink.record(writeClockAnchor(this.#anchorWriter, { sensorId, boot, uptimeMs: this.#o.uptime(), wallMs }));
  }
}
