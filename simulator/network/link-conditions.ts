/*
 * The network between a device and the gateway, as the simulator models it
 * on a TCP connection: one-way latency with jitter, segment loss (TCP
 * resends a lost segment after a retransmission timeout that doubles while
 * it is lost again, and gives up after a bounded number of tries), and
 * partitions (nothing gets through; a connection that stays cut past a
 * bound is reset). Pure: the real-socket bridge and the virtual network
 * both ask it when a chunk sent now arrives.
 */
import { uniform } from "../sensors/signal.js";

export interface LinkConditions {
  /** One-way delay, ms. */
  latencyMs: number;
  /** Up to this much more, uniformly, per chunk, ms. */
  jitterMs: number;
  /** Probability (0 to 1) that a segment is lost on its way. */
  loss: number;
  /** Nothing gets through. */
  partitioned: boolean;
}

export const PERFECT_LINK: Readonly<LinkConditions> = Object.freeze({ latencyMs: 0, jitterMs: 0, loss: 0, partitioned: false });

/** Linux's minimum retransmission timeout. */
export const RETRANSMIT_MS = 200;
/** Tries before TCP gives up on a segment (Linux's tcp_retries2 is 15; fewer here, so a lossy test ends). */
export const MAX_RETRANSMITS = 8;
/** A connection cut by a partition for longer than this is reset (as keep-alives and retransmissions give up). */
export const PARTITION_RESET_MS = 30_000;
/** A connect during a partition fails after this long, as an unanswered SYN does. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A receiver acknowledges data with its next segment, or alone after this long (Linux's delayed ACK). */
export const DELAYED_ACK_MS = 40;

export type Delivery = { at: number } | { reset: string };

/**
 * One direction of one connection: chunks arrive in the order they were
 * sent, each no earlier than the one before (TCP delivers in order).
 */
export class LinkDirection {
  #lastArrival = -Infinity;
  #draws = 0;
  readonly #seed: number;
  readonly #stream: number;

  constructor(seed: number, stream: number) {
    this.#seed = seed;
    this.#stream = stream;
  }

  /** When a chunk sent at `sentAt` arrives (not partitioned: the caller holds chunks while it is). */
  deliver(sentAt: number, conditions: LinkConditions): Delivery {
    let delay = Math.max(0, conditions.latencyMs);
    if (conditions.jitterMs > 0) delay += conditions.jitterMs * this.#draw();
    if (conditions.loss > 0) {
      let timeout = RETRANSMIT_MS;
      for (let tries = 0; this.#draw() < conditions.loss; tries++) {
        if (tries >= MAX_RETRANSMITS) return { reset: `connection timed out (${MAX_RETRANSMITS} retransmissions lost)` };
        delay += timeout;
        timeout *= 2;
      }
    }
    this.#lastArrival = Math.max(this.#lastArrival, sentAt + delay);
    return { at: this.#lastArrival };
  }

  #draw(): number {
    return uniform(this.#seed, this.#stream, this.#draws++);
  }
}
