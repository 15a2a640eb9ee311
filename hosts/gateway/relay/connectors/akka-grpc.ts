/*
 * The relay's connector to an Akka cloud: observations pushed as events over
 * Akka Projection gRPC EventConsumerService.ConsumeEvent ("producer push"),
 * on one long-lived stream, each acknowledged by (persistence id, seq_nr).
 * send() resolves with exactly the acknowledged keys; whatever was not acked
 * (stream reset, server silent, connector closed) the relay sends again on a
 * new stream, and the cloud skips what it already has by seq_nr.
 */
import { createLogger, type Logger } from "../../../log/logger.js";
import type { CloudAck, CloudConnector, ObservationKey, RelayedObservation } from "../connector.js";
import { EVENT_CONSUMER_SERVICE, grpcService } from "../../../grpc/protocol.js";
import { channelCredentials, type ClientTlsFiles } from "../../../grpc/tls.js";
import { tokenOptions } from "../../../grpc/bearer-interceptor.js";
import { AkkaProducerError, type ProducerFault } from "./akka-grpc-errors.js";
import { EventEncodingError, encodeObservationEvent, type EncodedEvent, type EventEncoding, type PayloadKind } from "./akka-grpc-event.js";
import { ConsumeEventStream, type ConsumeEventCall, type StreamContext, type StreamCounters, type StreamSettings } from "./akka-grpc-stream.js";
import { LogThrottle } from "../../../log/log-throttle.js";
import { AdaptiveAckTimeout, MAX_ACK_TIMEOUT_MS } from "./akka-grpc-timing.js";
import { LinkWatcher } from "./akka-grpc-link.js";

export type { PayloadKind } from "./akka-grpc-event.js";

/** The Akka sample's origin id is "edge-iot-service"; ours says what sent the events. */
export const DEFAULT_ORIGIN_ID = "xsedge-gateway";
export const DEFAULT_STREAM_ID = "temperature-events";
export const DEFAULT_ENTITY_TYPE = "Sensor";
/**
 * Events unacknowledged at once. The sample's 10 caps a WAN link at 10 per
 * round trip (200/s at 50 ms), below what one gateway ingests; 100 covers
 * 2,000/s at 50 ms while holding at most ~100 small events (a few tens of kB)
 * that a dead stream makes us resend. Akka's consumer writes per persistence
 * id in order and acks each, so more in flight costs it nothing.
 */
export const DEFAULT_MAX_IN_FLIGHT = 100;
/** Akka's own EventPusher sends a KeepAlive after 5 s without events; so do we. */
export const DEFAULT_KEEP_ALIVE_MS = 5_000;
/**
 * Longer than a healthy cloud takes to write and ack (it batches journal
 * writes); short enough that a stalled one shows within seconds. As the HTTP
 * connector's timeout. It is where the adaptive timeout starts and returns
 * to (akka-grpc-timing.ts): a slower cloud makes it grow.
 */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
/**
 * HTTP/2 pings on the stream's connection: with events in flight, a dead
 * link (or a half-open one: no RST, nothing) shows within 6 s whatever the
 * ack timeout has grown to, while a live but slow cloud keeps answering
 * pings and gets its ack timeout. Akka's server (akka-http) and grpc-js
 * answer pings at any rate; grpc-js backs off by itself if a server says
 * "too many pings".
 */
export const KEEPALIVE_TIME_MS = 3_000;
export const KEEPALIVE_TIMEOUT_MS = 3_000;
/** The cloud answers Init at once (it looks up its filters); this only bounds a connection that hangs. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/**
 * grpc-js waits up to 120 s between reconnect attempts after a long outage.
 * Ours retries the TCP connection every second at most, and the connector
 * wakes the relay when it succeeds (akka-grpc-link.ts), so a cloud that
 * comes back gets the backlog within about a second, whatever the relay's
 * own backoff has grown to. A connection attempt a second to a cloud that is
 * down costs one SYN.
 */
export const RECONNECT_BACKOFF_INITIAL_MS = 250;
export const RECONNECT_BACKOFF_MAX_MS = 1_000;
/**
 * Ask the cloud to fill seq_nr gaps with filtered events: a device's seq has
 * gaps (lost or evicted records, a reset), and an Akka journal with gaps stalls
 * the cloud's own projections, which expect seq_nr + 1 per persistence id.
 */
export const FILL_SEQUENCE_NUMBER_GAPS = true;
/** One line per kind of stray server message per this interval; the counters keep the exact numbers. */
export const SERVER_MESSAGE_LOG_INTERVAL_MS = 10_000;

export interface AkkaGrpcConnectorOptions {
  /** "host:port" of the cloud's EventConsumerService, e.g. "127.0.0.1:8101". */
  target: string;
  /** Absent: plaintext (h2c). */
  tls?: ClientTlsFiles;
  /** Sent as `authorization: Bearer <token>` on the stream; never logged. */
  token?: string;
  originId?: string;
  streamId?: string;
  entityType?: string;
  /** Default "observation" (every reading); "temperature" is the Akka sample's TemperatureRead, whole °C only. */
  payload?: PayloadKind;
  maxInFlight?: number;
  keepAliveMs?: number;
  /** Where the adaptive ack timeout starts (and returns to); DEFAULT_ACK_TIMEOUT_MS by default. */
  ackTimeoutMs?: number;
  /** The most the ack timeout may grow to; MAX_ACK_TIMEOUT_MS by default (never below ackTimeoutMs). */
  maxAckTimeoutMs?: number;
  startTimeoutMs?: number;
  /** HTTP/2 ping interval and answer timeout on the channel; KEEPALIVE_TIME_MS and KEEPALIVE_TIMEOUT_MS by default. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  logger?: Logger;
}

/** The stream's counters (the faults spelled out one by one), and the link's state. */
export interface AkkaProducerStats extends Omit<StreamCounters, "faults"> {
  target: string;
  streamId: string;
  /** A ConsumeEvent stream is started and open. */
  connected: boolean;
  inFlight: number;
  /** Streams that got their ConsumerEventStart. */
  streamsStarted: number;
  /** Streams refused (wrong stream id and the like). */
  refused: number;
  unavailable: number;
  /** Streams the server reset or ended. */
  resets: number;
  startTimeouts: number;
  ackTimeouts: number;
  /** The ack timeout streams use now (grown by timeouts, shrunk by prompt batches). */
  ackTimeoutMs: number;
  /** Observations that could not become events (never sent, never acked). */
  encodingErrors: number;
  lastError: string | null;
}

export interface AkkaGrpcConnector extends CloudConnector {
  stats(): AkkaProducerStats;
  onLinkUp(listener: () => void): void;
}

/** What the Akka sample's TemperatureRead cannot carry, said once at start. */
export const TEMPERATURE_PAYLOAD_DROPS =
  "cloud.akka.payload temperature (the Akka sample's iot.temperature.TemperatureRead) sends whole °C only: it drops the fraction of each temperature, every humidity and pressure reading (observations without a temperature go as FilteredEvents), boot, uptime and the device's wall time; use payload observation to keep them";

function positive(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < 1) throw new RangeError(`akka-grpc connector ${name} must be a positive integer, got ${value}`);
  return chosen;
}

function nonEmpty(name: string, value: string | undefined, fallback: string): string {
  const chosen = value ?? fallback;
  if (chosen === "") throw new RangeError(`akka-grpc connector ${name} must not be empty`);
  return chosen;
}

export function createAkkaGrpcConnector(options: AkkaGrpcConnectorOptions): AkkaGrpcConnector {
  const target = nonEmpty("target", options.target, "");
  const payload = options.payload ?? "observation";
  if (payload !== "temperature" && payload !== "observation") throw new RangeError(`akka-grpc connector payload must be "temperature" or "observation", got "${String(payload)}"`);
  const encoding: EventEncoding = { entityType: nonEmpty("entityType", options.entityType, DEFAULT_ENTITY_TYPE), payload };
  const settings: StreamSettings = {
    target,
    init: {
      origin_id: nonEmpty("originId", options.originId, DEFAULT_ORIGIN_ID),
      stream_id: nonEmpty("streamId", options.streamId, DEFAULT_STREAM_ID),
      fill_sequence_number_gaps: FILL_SEQUENCE_NUMBER_GAPS,
    },
    maxInFlight: positive("maxInFlight", options.maxInFlight, DEFAULT_MAX_IN_FLIGHT),
    keepAliveMs: positive("keepAliveMs", options.keepAliveMs, DEFAULT_KEEP_ALIVE_MS),
    startTimeoutMs: positive("startTimeoutMs", options.startTimeoutMs, DEFAULT_START_TIMEOUT_MS),
  };
  const ackTimeoutMs = positive("ackTimeoutMs", options.ackTimeoutMs, DEFAULT_ACK_TIMEOUT_MS);
  const ackTimeout = new AdaptiveAckTimeout(ackTimeoutMs, Math.max(ackTimeoutMs, positive("maxAckTimeoutMs", options.maxAckTimeoutMs, MAX_ACK_TIMEOUT_MS)));
  const log = options.logger ?? createLogger({ component: "akka-grpc" });
  if (payload === "temperature") log.warn(TEMPERATURE_PAYLOAD_DROPS);
  const Client = grpcService(EVENT_CONSUMER_SERVICE);
  const client = new Client(target, channelCredentials(options.tls, "cloud gRPC TLS"), {
    ...tokenOptions(options.token),
    "grpc.initial_reconnect_backoff_ms": RECONNECT_BACKOFF_INITIAL_MS,
    "grpc.max_reconnect_backoff_ms": RECONNECT_BACKOFF_MAX_MS,
    "grpc.keepalive_time_ms": positive("keepaliveTimeMs", options.keepaliveTimeMs, KEEPALIVE_TIME_MS),
    "grpc.keepalive_timeout_ms": positive("keepaliveTimeoutMs", options.keepaliveTimeoutMs, KEEPALIVE_TIMEOUT_MS),
  });
  const link = new LinkWatcher(client.getChannel());
  const counters: StreamContext["counters"] = {
    eventsSent: 0,
    filteredEventsSent: 0,
    keepAlivesSent: 0,
    acked: 0,
    unexpectedAcks: 0,
    malformedResponses: 0,
    faults: { refused: 0, unavailable: 0, reset: 0, malformed: 0, "start-timeout": 0, "ack-timeout": 0, encoding: 0, closed: 0 } satisfies Record<ProducerFault, number>,
  };
  const context: StreamContext = { counters, log, throttle: new LogThrottle(SERVER_MESSAGE_LOG_INTERVAL_MS), now: Date.now, ackTimeout };
  const name = `akka-grpc ${target}`;
  let stream: ConsumeEventStream | undefined;
  let streamsStarted = 0;
  let lastError: string | null = null;
  let closed = false;
  // The relay sends one batch at a time; a second caller waits its turn rather than sharing the window.
  let tail: Promise<unknown> = Promise.resolve();

  async function openStream(): Promise<ConsumeEventStream> {
    if (stream?.isOpen) return stream;
    const call = (client as unknown as { ConsumeEvent(): ConsumeEventCall }).ConsumeEvent();
    const opened = new ConsumeEventStream(call, settings, context);
    stream = opened;
    await opened.started;
    streamsStarted++;
    log.info(`ConsumeEvent stream to ${target} started`, { streamId: settings.init.stream_id, originId: settings.init.origin_id });
    return opened;
  }

  function encode(batch: readonly RelayedObservation[]): { events: EncodedEvent[]; failure: AkkaProducerError | null } {
    const events: EncodedEvent[] = [];
    let failure: AkkaProducerError | null = null;
    for (const observation of batch) {
      try {
        events.push(encodeObservationEvent(observation, encoding));
      } catch (error) {
        if (!(error instanceof EventEncodingError)) throw error;
        counters.faults.encoding++;
        failure = new AkkaProducerError("encoding", error.message);
        log.warn(`${error.message}; it stays in the outbox unacknowledged`);
      }
    }
    return { events, failure };
  }

  async function deliver(batch: readonly RelayedObservation[]): Promise<CloudAck> {
    if (closed) throw new AkkaProducerError("closed", `${name}: connector is closed`);
    const { events, failure: encodingFailure } = encode(batch);
    let acked: ObservationKey[] = [];
    let failure = encodingFailure;
    if (events.length > 0) {
      const delivery = await (await openStream()).deliver(events);
      acked = delivery.acked;
      failure = delivery.failure ?? failure;
    }
    if (failure !== null) {
      lastError = failure.message;
      // With nothing acked the relay shows this error; with a partial ack it shows only the count, so say why here.
      if (acked.length === 0) throw failure;
      log.warn(`${name}: ${acked.length} of ${batch.length} observations acknowledged: ${failure.message}`);
    }
    return { acked };
  }

  return {
    name,
    send(batch) {
      const run = tail.then(() =>
        deliver(batch).catch((error: unknown) => {
          if (error instanceof Error) lastError = error.message;
          link.watch();
          throw error;
        }),
      );
      tail = run.catch(() => {});
      return run;
    },
    async close() {
      if (closed) return;
      closed = true;
      link.close();
      stream?.close("connector closed");
      client.close();
    },
    onLinkUp: (listener) => link.onLinkUp(listener),
    stats() {
      return {
        target,
        streamId: settings.init.stream_id,
        connected: stream?.isOpen ?? false,
        inFlight: stream?.inFlight ?? 0,
        streamsStarted,
        eventsSent: counters.eventsSent,
        filteredEventsSent: counters.filteredEventsSent,
        keepAlivesSent: counters.keepAlivesSent,
        acked: counters.acked,
        unexpectedAcks: counters.unexpectedAcks,
        malformedResponses: counters.malformedResponses + counters.faults.malformed,
        refused: counters.faults.refused,
        unavailable: counters.faults.unavailable,
        resets: counters.faults.reset,
        startTimeouts: counters.faults["start-timeout"],
        ackTimeouts: counters.faults["ack-timeout"],
        ackTimeoutMs: ackTimeout.currentMs,
        encodingErrors: counters.faults.encoding,
        lastError,
      };
    },
  };
}
