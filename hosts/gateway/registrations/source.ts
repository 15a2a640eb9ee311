/*
 * What the gateway holds of a registration transport, whichever it is: the
 * cloud's SSE stream (feed.ts) or Akka Projection gRPC
 * (akka/consumer.ts). Both feed the same RegistrationProjection.
 */
import type { RegistrationFeedStats } from "./feed.js";

export interface RegistrationSource<Stats extends RegistrationFeedStats = RegistrationFeedStats> {
  /** Connects and keeps reconnecting until close(). Idempotent. */
  start(): void;
  /** A snapshot; callers may keep it. */
  stats(): Stats;
  /** Stops reconnecting and drops the connection; resolves when no event is being applied any more. Idempotent. */
  close(): Promise<void>;
}
