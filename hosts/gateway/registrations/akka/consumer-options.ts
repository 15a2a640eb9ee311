/*
 * What the Akka registration consumer (consumer.ts) is given
 * and what it reports, with the limits it runs under.
 */
import type { ClientTlsFiles } from "../../../grpc/tls.js";
import type { RegistrationFeedStats } from "../feed.js";
import type { RegistrationProjection } from "../projection.js";
import type { Logger } from "../../../log/logger.js";

export const DEFAULT_REGISTRATION_STREAM_ID = "registration-events";
/** Events received but not yet applied before the stream is paused: a burst of replay waits in the HTTP/2 window, not in memory. */
export const MAX_BUFFERED_EVENTS = 64;
/** HTTP/2 pings on a quiet stream (a registration stream is quiet for days): a dead link shows within 80 s, without an idle timeout. */
export const KEEPALIVE_TIME_MS = 60_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;

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
  /** Restart a stream that brought nothing for this long; 0 or undefined: never (Akka's stream has no heartbeat). */
  idleTimeoutMs?: number;
  now?: () => number;
}

export interface RegistrationConsumerStats extends RegistrationFeedStats {
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
