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
