/*
 * Sensor registrations over Akka Projection gRPC: a client of the cloud's
 * EventProducerService.EventsBySlices (the Akka Edge consumer's side of the
 * protocol, see shared/akka-projection-grpc.md), applying each event to the
 * RegistrationProjection together with its position, so a restart resumes
 * from the stored offset and skips what is already in.
 *
 * The decisions are in envelope.ts (what a message says),
 * sequence.ts (which seq_nr comes next, the offset) and
 * backoff.ts (when to reconnect); this file owns the stream, the
 * LoadEvent calls and the timers.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../../log/logger.js";
import type { OffsetIn, StreamOut } from "../../../grpc/messages.js";
import { SLICE_COUNT } from "../../../grpc/persistence-id.js";
import { EVENT_PRODUCER_SERVICE, grpcService } from "../../../grpc/protocol.js";
import { channelCredentials } from "../../../grpc/tls.js";
import type { RegistrationProjection } from "../projection.js";
import type { RegistrationSource } from "../source.js";
import {
  KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS, MAX_BUFFERED_EVENTS, DEFAULT_REGISTRATION_STREAM_ID,
  type RegistrationConsumerOptions, type RegistrationConsumerStats,
} from "./consumer-options.js";
import { ReconnectBackoff } from "./backoff.js";
import { describePosition, quoteId, readEnvelope, readRegistration, shownId, type Envelope } from "./envelope.js";
import { loadFullEvent, statusText, type ProducerClient } from "./load.js";
import { initOffsets, RegistrationStreamState, type StreamOffset } from "./sequence.js";

export {
  DEFAULT_REGISTRATION_STREAM_ID, KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS, MAX_BUFFERED_EVENTS,
  type RegistrationConsumerOptions, type RegistrationConsumerStats,
} from "./consumer-options.js";

interface Attempt {
  call: grpc.ClientDuplexStream<{ init: Record<string, unknown> }, StreamOut>;
  openedAt: number;
  delivered: boolean;
  ended: boolean;
  /** Why we ended it ourselves; the status then only says CANCELLED. */
  failure: Error | null;
  queue: StreamOut[];
  draining: Promise<void> | null;
  done: Promise<void>;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

function describeOffset(offset: StreamOffset | null): string {
  return offset === null ? "the start" : `${offsetTime(offset)} (${offset.seen.length} seen)`;
}

function offsetTime(offset: StreamOffset): string {
  return new Date(offset.timestamp.seconds * 1000 + Math.floor(offset.timestamp.nanos / 1e6)).toISOString();
}

export class AkkaRegistrationConsumer implements RegistrationSource<RegistrationConsumerStats> {
  readonly #client: ProducerClient;
  readonly #target: string;
  readonly #projection: RegistrationProjection;
  readonly #log: Logger;
  readonly #streamId: string;
  readonly #sliceMin: number;
  readonly #sliceMax: number;
  readonly #idleTimeoutMs: number;
  readonly #now: () => number;
  readonly #backoff: ReconnectBackoff;
  readonly #state: RegistrationStreamState;
  readonly #stats = { connected: false, events: 0, badEvents: 0, reconnects: 0, lastError: null as string | null, duplicates: 0, gaps: 0, filtered: 0, loaded: 0, loadFailures: 0 };
  #attempt: Attempt | undefined;
  #loading: grpc.ClientUnaryCall | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The last failure logged at warn: an outage repeating one reason logs it once. */
  #lastLogged: string | null = null;
  #started = false;
  #closed = false;

  constructor(options: RegistrationConsumerOptions) {
    this.#sliceMin = options.sliceMin ?? 0;
    this.#sliceMax = options.sliceMax ?? SLICE_COUNT - 1;
    if (!Number.isInteger(this.#sliceMin) || !Number.isInteger(this.#sliceMax) || this.#sliceMin < 0 || this.#sliceMax >= SLICE_COUNT || this.#sliceMin > this.#sliceMax) {
      throw new RangeError(`registration slices must satisfy 0 <= sliceMin <= sliceMax <= ${SLICE_COUNT - 1}, got ${options.sliceMin} and ${options.sliceMax}`);
    }
    this.#streamId = options.streamId ?? DEFAULT_REGISTRATION_STREAM_ID;
    if (this.#streamId === "") throw new RangeError("registration stream id must not be empty");
    this.#target = options.target;
    this.#projection = options.projection;
    this.#log = options.logger;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.#now = options.now ?? Date.now;
    this.#backoff = new ReconnectBackoff(options.retryInitialMs, options.retryMaxMs);
    const position = this.#projection.streamPosition(this.#streamId);
    this.#state = new RegistrationStreamState(position.offset, position.seqNrs);
    const Client = grpcService(EVENT_PRODUCER_SERVICE);
    this.#client = new Client(options.target, channelCredentials(options.tls, "registration TLS"), {
      "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    }) as unknown as ProducerClient;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  stats(): RegistrationConsumerStats {
    const offset = this.#state.offset;
    return { ...this.#stats, offsetTimestamp: offset === null ? null : offsetTime(offset) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#loading?.cancel();
    const attempt = this.#attempt;
    if (attempt !== undefined) {
      attempt.call.cancel();
      await attempt.done;
      await attempt.draining;
    }
    this.#client.close();
    this.#stats.connected = false;
  }

  #connect(): void {
    const offset: OffsetIn[] = initOffsets(this.#state.offset);
    const call = this.#client.EventsBySlices();
    const attempt: Attempt = {
      call, openedAt: this.#now(), delivered: false, ended: false, failure: null, queue: [], draining: null, idleTimer: undefined,
      done: new Promise((resolve) => call.once("status", () => resolve())),
    };
    this.#attempt = attempt;
    call.on("metadata", () => this.#opened(attempt));
    call.on("data", (out: StreamOut) => this.#received(attempt, out));
    // The status event carries the same error; this listener only keeps it from being thrown.
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => {
      this.#ended(attempt, new Error(status.code === grpc.status.OK ? "stream ended by the producer" : statusText(status)));
    });
    call.write({ init: { stream_id: this.#streamId, slice_min: this.#sliceMin, slice_max: this.#sliceMax, offset, filter: [], replica_info: null } });
    this.#log.debug(`registration stream ${this.#streamId} requested from ${this.#target} from ${describeOffset(this.#state.offset)}`);
    this.#touch(attempt);
  }

  #opened(attempt: Attempt): void {
    if (attempt.ended || this.#stats.connected) return;
    this.#stats.connected = true;
    this.#log.info(`registration stream ${this.#streamId} (slices ${this.#sliceMin}-${this.#sliceMax}) connected to ${this.#target}, resuming from ${describeOffset(this.#state.offset)}`, {
      target: this.#target, streamId: this.#streamId,
    });
  }

  #touch(attempt: Attempt): void {
    if (this.#idleTimeoutMs <= 0) return;
    clearTimeout(attempt.idleTimer);
    attempt.idleTimer = setTimeout(() => this.#fail(attempt, new Error(`no event for ${this.#idleTimeoutMs} ms`)), this.#idleTimeoutMs);
  }

  #received(attempt: Attempt, out: StreamOut): void {
    if (attempt.ended) return;
    this.#opened(attempt);
    attempt.delivered = true;
    this.#touch(attempt);
    attempt.queue.push(out);
    if (attempt.queue.length >= MAX_BUFFERED_EVENTS) attempt.call.pause();
    attempt.draining ??= this.#drain(attempt).finally(() => {
      attempt.draining = null;
    });
  }

  /** Applies the queued events one at a time, in order: a LoadEvent in between holds back the ones after it. */
  async #drain(attempt: Attempt): Promise<void> {
    while (!attempt.ended && !this.#closed && attempt.queue.length > 0) {
      const out = attempt.queue.shift() as StreamOut;
      try {
        await this.#handle(attempt, out);
      } catch (error) {
        // A store that cannot commit, or a LoadEvent that may succeed later: nothing was
        // recorded for this event, so the next stream, from the stored offset, brings it again.
        this.#fail(attempt, error as Error);
        return;
      }
      if (attempt.queue.length === 0) attempt.call.resume();
    }
  }

  async #handle(attempt: Attempt, out: StreamOut): Promise<void> {
    const reading = readEnvelope(out);
    if (!reading.ok) {
      this.#stats.badEvents++;
      this.#log.warn(`ignored registration stream message: ${reading.reason}`, { reason: reading.reason });
      return;
    }
    let envelope = reading.envelope;
    const { persistenceId, seqNr } = envelope;
    const decision = this.#state.decide(persistenceId, seqNr, envelope.source);
    if (decision.action === "duplicate") {
      this.#stats.duplicates++;
      this.#log.debug(`registration event ${describePosition(persistenceId, seqNr)} already handled (last seq_nr ${decision.last})`);
      return;
    }
    if (decision.action === "load") {
      const loaded = await loadFullEvent(this.#client, this.#streamId, envelope, (call) => (this.#loading = call));
      if (attempt.ended || this.#closed) throw new Error("stream ended during LoadEvent");
      if (loaded.outcome !== "loaded") this.#stats.loadFailures++;
      if (loaded.outcome === "skip") return this.#skip(envelope, loaded.reason);
      if (loaded.outcome === "retry") {
        this.#log.warn(`${loaded.reason}; restarting the stream`, { persistenceId: shownId(persistenceId), seqNr, error: loaded.reason });
        throw new Error(loaded.reason);
      }
      this.#stats.loaded++;
      envelope = loaded.envelope;
    }
    if (decision.missed > 0) {
      this.#stats.gaps++;
      this.#log.warn(`registration events of ${quoteId(persistenceId)}: expected seq_nr ${seqNr - decision.missed}, got ${seqNr}; accepted (a later registration replaces the missed ones)`, {
        persistenceId: shownId(persistenceId), seqNr, missed: decision.missed,
      });
    }
    this.#record(envelope);
  }

  #record(envelope: Envelope): void {
    if (envelope.kind === "filtered") {
      this.#commit(envelope, null);
      this.#stats.filtered++;
      this.#log.debug(`filtered registration event ${describePosition(envelope.persistenceId, envelope.seqNr)}`);
      return;
    }
    const reading = readRegistration(envelope);
    if (!reading.ok) return this.#skip(envelope, reading.reason);
    const outcome = this.#commit(envelope, reading.registration);
    this.#stats.events++;
    // The fields are named one by one: the registration holds the secret.
    const { sensorId } = reading.registration;
    this.#log.info(`sensor ${quoteId(sensorId)} ${outcome === "registered" ? "registered" : "re-registered (new secret)"}`, {
      sensorId: shownId(sensorId), persistenceId: shownId(envelope.persistenceId), seqNr: envelope.seqNr,
    });
  }

  /** A bad event at a known position: recorded as handled, so it is not delivered again and cannot wedge the stream. */
  #skip(envelope: Envelope, reason: string): void {
    this.#commit(envelope, null);
    this.#stats.badEvents++;
    this.#log.warn(`skipped registration event ${reason}`, { persistenceId: shownId(envelope.persistenceId), seqNr: envelope.seqNr, reason });
  }

  #commit(envelope: Envelope, registration: Parameters<RegistrationProjection["applyStreamEvent"]>[2]) {
    const step = this.#state.step(envelope.persistenceId, envelope.seqNr, envelope.timestamp);
    const outcome = this.#projection.applyStreamEvent(this.#streamId, step, registration);
    this.#state.commit(step);
    return outcome;
  }

  #fail(attempt: Attempt, error: Error): void {
    if (attempt.ended) return;
    attempt.failure ??= error;
    attempt.call.cancel();
  }

  #ended(attempt: Attempt, error: Error): void {
    if (attempt.ended) return;
    attempt.ended = true;
    clearTimeout(attempt.idleTimer);
    this.#loading?.cancel();
    const wasConnected = this.#stats.connected;
    this.#stats.connected = false;
    if (this.#attempt === attempt) this.#attempt = undefined;
    if (this.#closed) return;
    const reason = attempt.failure ?? error;
    this.#stats.lastError = reason.message;
    const delay = this.#backoff.ended(ReconnectBackoff.wasHealthy(attempt.delivered, attempt.openedAt, this.#now()));
    // A dropped stream is worth a warning; each failed retry during an outage only a debug line, unless it is a new reason.
    const line = `registration stream ${wasConnected ? "lost" : "failed"}: ${reason.message}; retrying in ${delay} ms`;
    if (wasConnected || attempt.failure !== null || this.#lastLogged !== reason.message) this.#log.warn(line, { error: reason.message, retryMs: delay });
    else this.#log.debug(line, { error: reason.message, retryMs: delay });
    this.#lastLogged = reason.message;
    const previous = attempt.draining ?? Promise.resolve();
    this.#timer = setTimeout(() => {
      // The old stream's last event is applied (or dropped) before the new stream's first.
      void previous.then(() => {
        if (this.#closed) return;
        this.#stats.reconnects++;
        this.#connect();
      });
    }, delay);
  }
}
