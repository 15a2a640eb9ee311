/*
 * Sensor registrations over Akka Projection gRPC: a client of the cloud's
 * EventProducerService.EventsBySlices (the Akka Edge consumer's side of the
 * protocol, see shared/akka-projection-grpc.md), applying each event to the
 * RegistrationProjection together with its position, so a restart resumes
 * from the stored offset and skips what is already in.
 *
 * A quiet stream is normal, so a dead one must be found by other means:
 * HTTP/2 pings on the connection (a dead link or half-open TCP), and a
 * recycle after DEFAULT_IDLE_RECYCLE_MS without a message (a stream wedged
 * behind a live connection), which requests it again from the stored offset.
 *
 * The decisions are in envelope.ts (what a message says),
 * sequence.ts (which seq_nr comes next, the offsets), backoff.ts (when to
 * reconnect) and stream-life.ts (where the stream stands); event-handler.ts
 * applies each message; this file owns the stream, the LoadEvent calls and
 * the timers.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../../log/logger.js";
import type { StreamOut } from "../../../grpc/messages.js";
import { SLICE_COUNT } from "../../../grpc/persistence-id.js";
import { EVENT_PRODUCER_SERVICE, grpcService } from "../../../grpc/protocol.js";
import { channelCredentials } from "../../../grpc/tls.js";
import { tokenOptions } from "../../../grpc/bearer-interceptor.js";
import type { RegistrationSource } from "../source.js";
import {
  DEFAULT_IDLE_RECYCLE_MS, KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS, MAX_BUFFERED_EVENTS, DEFAULT_REGISTRATION_STREAM_ID, STREAM_SETTLED_MS,
  type RegistrationConsumerOptions, type RegistrationConsumerStats,
} from "./consumer-options.js";
import { ReconnectBackoff } from "./backoff.js";
import { RegistrationEventHandler, type EventCounters } from "./event-handler.js";
import { loadFullEvent, statusText, type ProducerClient } from "./load.js";
import { describeOffsets, initOffsets, isoTime, latestTimestamp, RegistrationStreamState } from "./sequence.js";
import { StreamLife } from "./stream-life.js";

export {
  DEFAULT_IDLE_RECYCLE_MS, DEFAULT_REGISTRATION_STREAM_ID, KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS, MAX_BUFFERED_EVENTS, STREAM_SETTLED_MS,
  type RegistrationConsumerOptions, type RegistrationConsumerStats,
} from "./consumer-options.js";

interface Attempt {
  call: grpc.ClientDuplexStream<{ init: Record<string, unknown> }, StreamOut>;
  openedAt: number;
  delivered: boolean;
  ended: boolean;
  /** Why we ended it ourselves; the status then only says CANCELLED. */
  failure: Error | null;
  /** Ended by the idle recycle: routine, not a failure. */
  recycled: boolean;
  queue: StreamOut[];
  draining: Promise<void> | null;
  done: Promise<void>;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  settleTimer: ReturnType<typeof setTimeout> | undefined;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isFinite(chosen) || chosen < 0) throw new RangeError(`registration ${name} must be a number of ms >= 0, got ${value}`);
  return chosen;
}

export class AkkaRegistrationConsumer implements RegistrationSource<RegistrationConsumerStats> {
  readonly #client: ProducerClient;
  readonly #target: string;
  readonly #log: Logger;
  readonly #streamId: string;
  readonly #sliceMin: number;
  readonly #sliceMax: number;
  readonly #idleRecycleMs: number;
  readonly #now: () => number;
  readonly #backoff: ReconnectBackoff;
  readonly #state: RegistrationStreamState;
  readonly #life = new StreamLife();
  readonly #counters: EventCounters = { events: 0, badEvents: 0, duplicates: 0, gaps: 0, filtered: 0, loaded: 0, loadFailures: 0 };
  readonly #handler: RegistrationEventHandler;
  #reconnects = 0;
  #lastError: string | null = null;
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
    this.#log = options.logger;
    this.#idleRecycleMs = nonNegative("idleRecycleMs", options.idleRecycleMs, DEFAULT_IDLE_RECYCLE_MS);
    const keepaliveTimeMs = nonNegative("keepaliveTimeMs", options.keepaliveTimeMs, KEEPALIVE_TIME_MS);
    const keepaliveTimeoutMs = nonNegative("keepaliveTimeoutMs", options.keepaliveTimeoutMs, KEEPALIVE_TIMEOUT_MS);
    this.#now = options.now ?? Date.now;
    this.#backoff = new ReconnectBackoff(options.retryInitialMs, options.retryMaxMs);
    const position = options.projection.streamPosition(this.#streamId);
    this.#state = new RegistrationStreamState(position.offsets, position.seqNrs);
    const Client = grpcService(EVENT_PRODUCER_SERVICE);
    this.#client = new Client(options.target, channelCredentials(options.tls, "registration TLS"), {
      ...tokenOptions(options.token),
      "grpc.keepalive_time_ms": keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": keepaliveTimeoutMs,
    }) as unknown as ProducerClient;
    this.#handler = new RegistrationEventHandler({
      streamId: this.#streamId,
      state: this.#state,
      projection: options.projection,
      log: this.#log,
      counters: this.#counters,
      load: (envelope) => loadFullEvent(this.#client, this.#streamId, envelope, (call) => (this.#loading = call)),
    });
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  stats(): RegistrationConsumerStats {
    const latest = latestTimestamp(this.#state.offsets);
    const { phase, ...life } = this.#life.snapshot(this.#now());
    return {
      connected: phase === "connected",
      state: phase,
      ...life,
      reconnects: this.#reconnects,
      lastError: this.#lastError,
      ...this.#counters,
      offsetTimestamp: latest === null ? null : isoTime(latest),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#life.closed();
    clearTimeout(this.#timer);
    this.#loading?.cancel();
    const attempt = this.#attempt;
    if (attempt !== undefined) {
      attempt.call.cancel();
      await attempt.done;
      await attempt.draining;
    }
    this.#client.close();
  }

  #connect(): void {
    const call = this.#client.EventsBySlices();
    const attempt: Attempt = {
      call, openedAt: this.#now(), delivered: false, ended: false, failure: null, recycled: false, queue: [], draining: null,
      idleTimer: undefined, settleTimer: undefined, done: new Promise((resolve) => call.once("status", () => resolve())),
    };
    this.#attempt = attempt;
    this.#life.requested(attempt.openedAt);
    call.on("metadata", () => this.#opened(attempt, ""));
    call.on("data", (out: StreamOut) => this.#received(attempt, out));
    // The status event carries the same error; this listener only keeps it from being thrown.
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => {
      this.#ended(attempt, new Error(status.code === grpc.status.OK ? "stream ended by the producer" : statusText(status)));
    });
    const offset = initOffsets(this.#state.offsets);
    call.write({ init: { stream_id: this.#streamId, slice_min: this.#sliceMin, slice_max: this.#sliceMax, offset, filter: [], replica_info: null } });
    this.#log.debug(`registration stream ${this.#streamId} requested from ${this.#target} from ${describeOffsets(this.#state.offsets)}`);
    this.#settle(attempt);
    this.#touch(attempt);
  }

  /** A producer with nothing to send may send no header either: an open stream on a ready connection is connected too. */
  #settle(attempt: Attempt): void {
    attempt.settleTimer = setTimeout(() => {
      if (attempt.ended || this.#life.phase !== "connecting") return;
      if (this.#client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) this.#opened(attempt, " (nothing to replay)");
      else this.#settle(attempt);
    }, STREAM_SETTLED_MS);
    attempt.settleTimer.unref();
  }

  #opened(attempt: Attempt, note: string): void {
    if (attempt.ended || attempt !== this.#attempt || !this.#life.connected()) return;
    clearTimeout(attempt.settleTimer);
    this.#log.info(`registration stream ${this.#streamId} (slices ${this.#sliceMin}-${this.#sliceMax}) connected to ${this.#target}, resuming from ${describeOffsets(this.#state.offsets)}${note}`, {
      target: this.#target, streamId: this.#streamId,
    });
  }

  #touch(attempt: Attempt): void {
    if (this.#idleRecycleMs <= 0) return;
    clearTimeout(attempt.idleTimer);
    attempt.idleTimer = setTimeout(() => {
      if (attempt.ended) return;
      attempt.recycled = true;
      attempt.call.cancel();
    }, this.#idleRecycleMs);
  }

  #received(attempt: Attempt, out: StreamOut): void {
    if (attempt.ended) return;
    this.#opened(attempt, "");
    attempt.delivered = true;
    this.#life.message(this.#now());
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
        await this.#handler.handle(out, () => !attempt.ended && !this.#closed);
      } catch (error) {
        this.#fail(attempt, error as Error);
        return;
      }
      if (attempt.queue.length === 0) attempt.call.resume();
    }
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
    clearTimeout(attempt.settleTimer);
    this.#loading?.cancel();
    const wasConnected = this.#life.phase === "connected";
    if (this.#attempt === attempt) this.#attempt = undefined;
    if (this.#closed) return;
    const recycled = attempt.recycled && attempt.failure === null;
    this.#life.ended(this.#now(), recycled);
    let delay: number;
    if (recycled) {
      // Routine: nothing failed, so no backoff and no error to show.
      this.#backoff.ended(true);
      delay = 0;
      this.#log.info(`registration stream ${this.#streamId} brought nothing for ${this.#idleRecycleMs} ms; requesting it again from ${describeOffsets(this.#state.offsets)}`);
    } else {
      const reason = attempt.failure ?? error;
      this.#lastError = reason.message;
      delay = this.#backoff.ended(ReconnectBackoff.wasHealthy(attempt.delivered, attempt.openedAt, this.#now()));
      // A dropped stream is worth a warning; each failed retry during an outage only a debug line, unless it is a new reason.
      const line = `registration stream ${wasConnected ? "lost" : "failed"}: ${reason.message}; retrying in ${delay} ms`;
      if (wasConnected || attempt.failure !== null || this.#lastLogged !== reason.message) this.#log.warn(line, { error: reason.message, retryMs: delay });
      else this.#log.debug(line, { error: reason.message, retryMs: delay });
      this.#lastLogged = reason.message;
    }
    const previous = attempt.draining ?? Promise.resolve();
    this.#timer = setTimeout(() => {
      // The old stream's last event is applied (or dropped) before the new stream's first.
      void previous.then(() => {
        if (this.#closed) return;
        this.#reconnects++;
        this.#connect();
      });
    }, delay);
  }
}
