/*
 * One EventConsumerService.ConsumeEvent call: the I/O shell around the
 * window, the timing and the message reading. Writes ConsumerEventInit,
 * waits for ConsumerEventStart, then delivers one batch at a time within
 * the window, writes KeepAlive while idle, and ends itself on an ack
 * timeout. Once ended it stays ended; the connector opens a new one.
 */
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../../log/logger.js";
import type { ObservationKey } from "../connector.js";
import type { ConsumerEventInit } from "../../../grpc/messages.js";
import type { EncodedEvent, EventMessage } from "./akka-grpc-event.js";
import { AkkaProducerError, errorOfStatus, readServerMessage, type ProducerFault } from "./akka-grpc-errors.js";
import { nextStreamTimer, waitingSinceAfter, type AdaptiveAckTimeout } from "./akka-grpc-timing.js";
import { InFlightWindow } from "./akka-grpc-window.js";
import type { LogThrottle } from "../../../log/log-throttle.js";

export interface StreamSettings {
  target: string;
  init: ConsumerEventInit;
  maxInFlight: number;
  /** Write a KeepAlive after this long without writing anything. */
  keepAliveMs: number;
  startTimeoutMs: number;
}

/** Counted by the stream, reported by the connector's stats(). */
export interface StreamCounters {
  /** Writes, resends included. */
  eventsSent: number;
  filteredEventsSent: number;
  keepAlivesSent: number;
  acked: number;
  /** Acks for no event in flight: ignored. */
  unexpectedAcks: number;
  /** Server messages that are neither start nor a readable ack (ignored), or bytes that did not decode (stream ended). */
  malformedResponses: number;
  faults: Record<ProducerFault, number>;
}

/** What the connector shares with each of its streams. */
export interface StreamContext {
  counters: StreamCounters;
  log: Logger;
  /** For per-message warnings (stray acks, odd messages): a misbehaving server must not flood the log. */
  throttle: LogThrottle;
  now: () => number;
  /** The connector's ack timeout, which every stream's timeouts and ack times adjust. */
  ackTimeout: AdaptiveAckTimeout;
}

export interface DeliveryResult {
  acked: ObservationKey[];
  /** Why the batch stopped short; null when every event was acknowledged. */
  failure: AkkaProducerError | null;
}

type Outgoing = EventMessage | { init: ConsumerEventInit } | { keep_alive: Record<string, never> };
/** A ConsumeEvent call as grpc-js gives it. */
export type ConsumeEventCall = grpc.ClientDuplexStream<Outgoing, unknown>;

export class ConsumeEventStream {
  readonly started: Promise<void>;
  readonly #call: ConsumeEventCall;
  readonly #settings: StreamSettings;
  readonly #counters: StreamCounters;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #now: () => number;
  #isStarted = false;
  #ended: AkkaProducerError | null = null;
  #resolveStart!: () => void;
  #rejectStart!: (error: AkkaProducerError) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastWriteAt: number;
  #waitingSince: number | null = null;
  readonly #ackTimeout: AdaptiveAckTimeout;
  /** `slowestWaitMs`: the longest this batch waited for an ack (progress), for the adaptive timeout. */
  #delivery: { window: InFlightWindow; resolve: (result: DeliveryResult) => void; slowestWaitMs: number } | null = null;

  constructor(call: ConsumeEventCall, settings: StreamSettings, context: StreamContext) {
    this.#call = call;
    this.#settings = settings;
    this.#counters = context.counters;
    this.#log = context.log;
    this.#throttle = context.throttle;
    this.#now = context.now;
    this.#ackTimeout = context.ackTimeout;
    this.started = new Promise<void>((resolve, reject) => {
      this.#resolveStart = resolve;
      this.#rejectStart = reject;
    });
    // Handled by whoever awaits it; this keeps an unawaited rejection from crashing the process.
    this.started.catch(() => {});
    call.on("data", (message: unknown) => this.#onMessage(message));
    call.on("error", (error: grpc.ServiceError) => this.#end(errorOfStatus(settings.target, settings.init.stream_id, error.code, error.details ?? error.message)));
    call.on("end", () => this.#end(new AkkaProducerError("reset", `${settings.target} ended the ConsumeEvent stream`)));
    this.#lastWriteAt = this.#now();
    call.write({ init: settings.init });
    this.#arm(settings.startTimeoutMs, () => {
      this.#end(new AkkaProducerError("start-timeout", `${settings.target} sent no ConsumerEventStart within ${settings.startTimeoutMs} ms`));
    });
  }

  /** Started and not ended. */
  get isOpen(): boolean {
    return this.#isStarted && this.#ended === null;
  }

  get inFlight(): number {
    return this.#delivery?.window.inFlight ?? 0;
  }

  /** Sends the batch within the window; resolves when all is acked or the stream ended (never rejects). */
  deliver(events: readonly EncodedEvent[]): Promise<DeliveryResult> {
    if (this.#ended !== null || !this.#isStarted) {
      return Promise.resolve({ acked: [], failure: this.#ended ?? new AkkaProducerError("reset", `${this.#settings.target}: ConsumeEvent stream not started`) });
    }
    if (this.#delivery !== null) throw new Error("ConsumeEventStream.deliver: a batch is already in flight");
    const window = new InFlightWindow(events, this.#settings.maxInFlight);
    if (window.complete) return Promise.resolve({ acked: [], failure: null });
    return new Promise((resolve) => {
      this.#delivery = { window, resolve, slowestWaitMs: 0 };
      this.#pump();
    });
  }

  /** Ends the stream from our side (connector closing). */
  close(reason: string): void {
    this.#end(new AkkaProducerError("closed", `${this.#settings.target}: ${reason}`));
  }

  #pump(): void {
    const delivery = this.#delivery;
    if (delivery === null || this.#ended !== null) return;
    for (const event of delivery.window.takeSendable()) {
      this.#write(event.message);
      if (event.filtered) this.#counters.filteredEventsSent++;
      else this.#counters.eventsSent++;
    }
    this.#waitingSince = waitingSinceAfter(this.#waitingSince, delivery.window.inFlight, false, this.#now());
    this.#armTiming();
  }

  #write(message: Outgoing): void {
    this.#lastWriteAt = this.#now();
    // The window bounds what is buffered, so the write's backpressure signal is not needed.
    this.#call.write(message);
  }

  #onMessage(raw: unknown): void {
    if (this.#ended !== null) return;
    const message = readServerMessage(raw);
    switch (message.type) {
      case "malformed":
        this.#counters.malformedResponses++;
        this.#warn("malformed", `ignoring a malformed ConsumeEventOut from ${this.#settings.target}: ${message.reason}`);
        return;
      case "start":
        if (this.#isStarted) return;
        this.#isStarted = true;
        // Consumer-side filters would ask us to leave events out; we send everything and the cloud filters.
        if (message.filters > 0) this.#log.info(`${this.#settings.target} asked for ${message.filters} filter criteria; sending every event regardless`);
        this.#resolveStart();
        this.#armTiming();
        return;
      case "ack":
        this.#onAck(message.persistenceId, message.seqNr);
        return;
    }
  }

  #onAck(persistenceId: string, seqNr: number): void {
    const delivery = this.#delivery;
    if (!this.#isStarted || delivery === null || delivery.window.ack(persistenceId, seqNr) === "not-in-flight") {
      this.#counters.unexpectedAcks++;
      this.#warn("unexpected-ack", `ignoring an ack from ${this.#settings.target} for ${persistenceId} seq_nr ${seqNr}: no such event in flight`);
      return;
    }
    this.#counters.acked++;
    const now = this.#now();
    if (this.#waitingSince !== null) delivery.slowestWaitMs = Math.max(delivery.slowestWaitMs, now - this.#waitingSince);
    this.#waitingSince = waitingSinceAfter(this.#waitingSince, delivery.window.inFlight, true, now);
    if (delivery.window.complete) {
      this.#delivery = null;
      const before = this.#ackTimeout.currentMs;
      const after = this.#ackTimeout.batchAcked(delivery.slowestWaitMs);
      if (after < before) this.#log.info(`${this.#settings.target} acknowledged a batch within ${delivery.slowestWaitMs} ms: ack timeout back down to ${after} ms`);
      delivery.resolve({ acked: delivery.window.acked(), failure: null });
      this.#armTiming();
    } else {
      this.#pump();
    }
  }

  #warn(kind: string, message: string): void {
    const verdict = this.#throttle.note(kind, this.#now());
    if (verdict.log) this.#log.warn(verdict.suppressed > 0 ? `${message} (and ${verdict.suppressed} more like it not logged)` : message);
  }

  #armTiming(): void {
    if (this.#ended !== null) return;
    const timing = { keepAliveMs: this.#settings.keepAliveMs, ackTimeoutMs: this.#ackTimeout.currentMs };
    const decision = nextStreamTimer({ lastWriteAt: this.#lastWriteAt, waitingSince: this.#waitingSince }, timing, this.#now());
    switch (decision.action) {
      case "ack-timeout": {
        const inFlight = this.inFlight;
        const next = this.#ackTimeout.timedOut();
        this.#end(new AkkaProducerError("ack-timeout", `${this.#settings.target} acknowledged none of ${inFlight} events in flight within ${timing.ackTimeoutMs} ms (the next stream waits up to ${next} ms)`));
        return;
      }
      case "keep-alive":
        this.#write({ keep_alive: {} });
        this.#counters.keepAlivesSent++;
        this.#armTiming();
        return;
      case "wait":
        this.#arm(decision.ms, () => this.#armTiming());
        return;
    }
  }

  #arm(ms: number, fire: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(fire, ms);
    // An idle stream's keep-alive timer must not keep the process alive by itself.
    this.#timer.unref();
  }

  #end(error: AkkaProducerError): void {
    if (this.#ended !== null) return;
    this.#ended = error;
    clearTimeout(this.#timer);
    if (error.fault !== "closed") this.#counters.faults[error.fault]++;
    const delivery = this.#delivery;
    this.#delivery = null;
    if (!this.#isStarted) {
      this.#rejectStart(error);
    } else if (delivery !== null) {
      const unacked = delivery.window.unacked().length;
      this.#log.warn(`${error.message}; ${unacked} events of the batch unacknowledged, to be sent again`);
      delivery.resolve({ acked: delivery.window.acked(), failure: error });
    } else if (error.fault !== "closed") {
      this.#log.info(`ConsumeEvent stream ended while idle: ${error.message}`);
    }
    // Our own cancel comes back as a CANCELLED error, ignored now that #ended is set.
    this.#call.cancel();
  }
}
