/*
 * The relay's decisions, free of I/O and time: given its state and what just
 * happened, what it does next. The shell in relay.ts performs the effects
 * (reading a batch, sending it, setting the one timer) and feeds back events.
 */

export type RelayPhase = "idle" | "sending" | "backing-off" | "closed";

export interface RelayState {
  readonly phase: RelayPhase;
  /** Failed sends since the last success; sets the backoff. */
  readonly consecutiveFailures: number;
  /** New data arrived while a batch was in flight: send again at once when it completes. */
  readonly wakePending: boolean;
}

export type RelayEvent =
  /** Something new was stored (or the relay was started). */
  | { type: "wake" }
  /** The wait the machine last asked for has elapsed. */
  | { type: "timer" }
  /** The cloud acknowledged the whole batch; `more` when the batch was full, so a backlog likely remains. */
  | { type: "sent"; more: boolean }
  /** The batch was not (fully) acknowledged. */
  | { type: "failed" }
  /** The connector says its link, down before, is up again. */
  | { type: "link-up" }
  | { type: "close" };

export type RelayEffect =
  /** Read the oldest unrelayed batch and send it; report "sent" or "failed". */
  | { type: "send" }
  /** Replace any pending timer with one that fires "timer" after `ms`. */
  | { type: "wait"; ms: number }
  | { type: "cancel-wait" };

export interface RelayPolicy {
  /** Poll for unrelayed rows this often when idle (catches anything a wake missed). */
  intervalMs: number;
  /** First retry delay after a failure; doubled per consecutive failure. */
  retryInitialMs: number;
  /** Retry delay cap, so a long outage is noticed soon after it ends. */
  retryMaxMs: number;
}

export interface RelayStep {
  state: RelayState;
  effects: RelayEffect[];
}

export const INITIAL_RELAY_STATE: RelayState = Object.freeze({ phase: "idle", consecutiveFailures: 0, wakePending: false });

/** Exponential backoff: initial × 2^(failures−1), capped. */
export function backoffDelay(consecutiveFailures: number, policy: RelayPolicy): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  // 2^30 already exceeds any sane cap; stopping there avoids Infinity.
  return Math.min(policy.retryMaxMs, policy.retryInitialMs * 2 ** Math.min(exponent, 30));
}

const SEND: RelayEffect = { type: "send" };

export function nextRelay(state: RelayState, event: RelayEvent, policy: RelayPolicy): RelayStep {
  const stay: RelayStep = { state, effects: [] };
  if (state.phase === "closed") return stay;
  if (event.type === "close") return { state: { ...state, phase: "closed" }, effects: [{ type: "cancel-wait" }] };

  switch (state.phase) {
    case "idle":
      if (event.type === "wake" || event.type === "timer") {
        return { state: { ...state, phase: "sending", wakePending: false }, effects: [{ type: "cancel-wait" }, SEND] };
      }
      return stay;

    case "sending":
      if (event.type === "wake") return { state: { ...state, wakePending: true }, effects: [] };
      if (event.type === "sent") {
        const again = event.more || state.wakePending;
        const next: RelayState = { phase: again ? "sending" : "idle", consecutiveFailures: 0, wakePending: false };
        return { state: next, effects: again ? [SEND] : [{ type: "wait", ms: policy.intervalMs }] };
      }
      if (event.type === "failed") {
        const failures = state.consecutiveFailures + 1;
        return {
          state: { phase: "backing-off", consecutiveFailures: failures, wakePending: false },
          effects: [{ type: "wait", ms: backoffDelay(failures, policy) }],
        };
      }
      return stay;

    case "backing-off":
      // A new observation does not make the cloud reachable: the timer ends a backoff, or the link coming back.
      if (event.type === "timer") return { state: { ...state, phase: "sending" }, effects: [SEND] };
      if (event.type === "link-up") return { state: { ...state, phase: "sending" }, effects: [{ type: "cancel-wait" }, SEND] };
      return stay;
  }
}
