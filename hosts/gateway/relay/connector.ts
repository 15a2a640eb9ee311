/*
 * How the relay reaches a cloud. One small interface so the transport can
 * change (HTTP now; gRPC, Akka projections later) without touching the relay.
 */
import type { TimedObservation } from "../../../modules/observation/record.js";

/**
 * One observation as relayed: the record, its wall time when its boot's
 * clock anchor gave one (absent otherwise, never guessed), and when the
 * gateway received it.
 */
export interface RelayedObservation extends TimedObservation {
  /** Gateway clock, ms since the Unix epoch. */
  receivedAt: number;
}

export interface ObservationKey {
  sensorId: string;
  seq: number;
}

export interface CloudAck {
  /**
   * The observations the cloud has durably stored (or already had). Only
   * these are marked relayed; anything else in the batch is sent again.
   */
  acked: ObservationKey[];
}

export interface CloudConnector {
  /** For logs and stats, e.g. "http http://127.0.0.1:8101". */
  readonly name: string;
  /** Rejects on any failure (unreachable, timeout, refused); the relay retries. */
  send(batch: readonly RelayedObservation[]): Promise<CloudAck>;
  /**
   * Optional: how many sends the relay may have in flight at once (1 when
   * absent). More lets rows committed during a request go out without
   * waiting for its answer; only a transport whose requests are
   * independent of each other says so.
   */
  readonly maxConcurrentSends?: number;
  /**
   * Optional: calls `listener` when a link that was down is up again (the
   * relay then ends its backoff at once). A transport that cannot tell
   * leaves it out, and the relay's backoff alone decides when to retry.
   */
  onLinkUp?(listener: () => void): void;
  close(): Promise<void>;
}
