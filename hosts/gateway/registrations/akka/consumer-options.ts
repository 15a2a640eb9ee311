/*
 * What the Akka registration consumer (consumer.ts) is given
 * and what it reports, with the limits it runs under.
 */
import type { ClientTlsFiles } from "../../../grpc/tls.js";
import type { RegistrationFeedStats } from "../feed.js";
import type { RegistrationProjection } from "../projection.js";
import type { Logger } from "../../../log/logger.js";
import type { StreamLifeSnapshot } from "./stream-life.js";

export const DEFAULT_REGISTRATION_STREAM_ID = "registration-events";
/** Events received but not yet applied before the stream is paused: a burst of replay waits in the HTTP/2 window, not in memory. */
export const MAX_BUFFERED_EVENTS = 64;
/**
 * HTTP/2 pings on the stream's connection (a registration stream is quiet
 * for days, so without them a dead link or a half-open TCP connection would
 * never show): an unanswered ping fails the stream within 40 s, and it is
 * requested again. Akka's gRPC server (akka-http) and grpc-js answer pings
 * at any rate; grpc-java's default 5 min minimum makes grpc-js back off by
 * itself when a server says "too many pings".
 */
export const KEEPALIVE_TIME_MS = 30_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/**
 * EventsBySlices has no heartbeat: Akka's producer sends nothing on a quiet
 * stream, so one wedged at the producer (a stuck query, a proxy that answers
 * pings but forwards nothing) looks exactly like a quiet one. After this long
 * without a message the stream is requested again from the stored offset: a
 * replay of nothing costs the producer one query, and a wedged stream is
 * noticed within 10 minutes.
 */
export const DEFAULT_IDLE_RECYCLE_MS = 600_000;
/**
 * A producer with nothing to replay may send no response header until its
 * first event (grpc-js servers do so). A stream still open this long after
 * its InitReq, on a connection that is up, counts as connected.
 */
export const STREAM_SETTLED_MS = 1_000;

export interface RegistrationConsumerOptions {
  /** The producer, "host:port". */
  target: string;
  /** Undefined: plaintext (h2c), as the Akka sample runs. */
  tls?: ClientTlsFiles;
  /** Sent as `authorization: Bearer <token>` on every call; never logged. */
  token?: string;
  projection: RegistrationProjection;
  logger: Logger;
  streamId?: string;
  sliceMin?: number;
  sliceMax?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Request the stream again after it brought nothing for this long; default DEFAULT_IDLE_RECYCLE_MS, 0: never. */
  idleRecycleMs?: number;
  /** HTTP/2 ping interval and answer timeout; KEEPALIVE_TIME_MS and KEEPALIVE_TIMEOUT_MS by default. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  now?: () => number;
}

export interface RegistrationConsumerStats extends RegistrationFeedStats, Omit<StreamLifeSnapshot, "phase"> {
  /** Where the stream stands: connecting, connected, retrying (idle before start, closed after). */
  state: StreamLifeSnapshot["phase"];
  /** Replays of events already handled (at or before a pid's last seq_nr), skipped. */
  duplicates: number;
  /** Events accepted past a jump in a known pid's seq_nr. */
  gaps: number;
  /** FilteredEvents: positions recorded, nothing to apply. */
  filtered: number;
  /** Backtracking events fetched with LoadEvent. */
  loaded: number;
  loadFailures: number;
  /** The stored offset's timestamp (ISO 8601); null until the first event. */
  offsetTimestamp: string | null;
}
