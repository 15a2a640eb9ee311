/*
 * When a ConsumeEvent stream needs a keep-alive and when its server has
 * taken too long to ack. Pure: the stream shell passes its activity and the
 * clock's reading, and arms one timer for the answer.
 */

export interface StreamTiming {
  /** Write a KeepAlive after this long without writing anything. */
  keepAliveMs: number;
  /** Give up on the stream after this long with events in flight and no ack. */
  ackTimeoutMs: number;
}

export interface StreamActivity {
  /** When anything (init, event, keep-alive) was last written. */
  lastWriteAt: number;
  /**
   * Since when events in flight have waited for an ack: set when the first
   * goes out, moved on by each ack, null when none is in flight. A server
   * that acks slowly but steadily is not timed out; one that stops is.
   */
  waitingSince: number | null;
}

export type StreamTimerDecision = { action: "ack-timeout" } | { action: "keep-alive" } | { action: "wait"; ms: number };

export function nextStreamTimer(activity: StreamActivity, timing: StreamTiming, now: number): StreamTimerDecision {
  const ackDue = activity.waitingSince === null ? Infinity : activity.waitingSince + timing.ackTimeoutMs;
  if (now >= ackDue) return { action: "ack-timeout" };
  const keepAliveDue = activity.lastWriteAt + timing.keepAliveMs;
  if (now >= keepAliveDue) return { action: "keep-alive" };
  return { action: "wait", ms: Math.min(ackDue, keepAliveDue) - now };
}

/** What waitingSince becomes after `inFlight` changed at `now` (an event sent or acked). */
export function waitingSinceAfter(previous: number | null, inFlight: number, acked: boolean, now: number): number | null {
  if (inFlight === 0) return null;
  if (previous === null || acked) return now;
  return previous;
}

/**
 * The longest the ack timeout grows to: a cloud slower than this to ack is
 * not slow but stuck, and two minutes of events in flight is what a lost
 * stream costs in resends at most.
 */
export const MAX_ACK_TIMEOUT_MS = 120_000;
/** A batch whose slowest wait for an ack took at most this fraction of the timeout lets it come down again. */
export const ACK_TIMEOUT_SHRINK_FRACTION = 0.25;

/**
 * The ack timeout a connector's streams use, adapting to its cloud: doubled
 * (up to MAX_ACK_TIMEOUT_MS) each time a stream times out, so a cloud that
 * acks later than the configured timeout gets the time it needs after one
 * window of resends instead of a livelock of them; halved (down to the
 * configured value) after a batch whose slowest ack came within a quarter of
 * it, so a stall that was a blip does not slow stall detection for long.
 * Pure: the stream reports what happened.
 */
export class AdaptiveAckTimeout {
  readonly baseMs: number;
  readonly maxMs: number;
  #currentMs: number;

  constructor(baseMs: number, maxMs = Math.max(baseMs, MAX_ACK_TIMEOUT_MS)) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new RangeError(`ack timeouts must be 0 < base <= max, got ${baseMs} and ${maxMs}`);
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.#currentMs = baseMs;
  }

  get currentMs(): number {
    return this.#currentMs;
  }

  /** A stream timed out: the next one waits longer. Returns the new timeout. */
  timedOut(): number {
    this.#currentMs = Math.min(this.maxMs, this.#currentMs * 2);
    return this.#currentMs;
  }

  /** A batch was acked whole; `slowestWaitMs` is the longest the stream waited for progress meanwhile. Returns the new timeout. */
  batchAcked(slowestWaitMs: number): number {
    if (slowestWaitMs <= this.#currentMs * ACK_TIMEOUT_SHRINK_FRACTION) this.#currentMs = Math.max(this.baseMs, Math.floor(this.#currentMs / 2));
    return this.#currentMs;
  }
}
