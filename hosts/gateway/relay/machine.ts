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
  /** Sends in flight now (0 unless sending). */
  readonly inFlight?: number;
  /** The last batch acknowledged was full: a backlog remains, so no second send goes alongside. */
  readonly behind?: boolean;
  /** A send in flight failed: no new sends; the backoff starts when the others are back. */
  readonly failing?: boolean;
}

export type RelayEvent =
  /** Something new was stored (or the relay was started). */
  | { type: "wake" }
  /** The wait the machine last asked for has elapsed. */
  | { type: "timer" }
  /**
   * The cloud acknowledged the whole batch; `more` when the batch was full, so a backlog likely remains;
   * `held` when rows were left for later because their sensor had rows in another send (send again, not behind).
   */
  | { type: "sent"; more: boolean; held?: boolean }
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
  /** Sends in flight at once while the relay keeps up (1 when absent): what the connector allows. */
  window?: number;
}

export interface RelayStep {
  state: RelayState;
  effects: RelayEffect[];
}

export const INITIAL_RELAY_STATE: RelayState = Object.freeze({ phase: "idle", consecutiveFailures: 0, wakePending: false, inFlight: 0, behind: false, failing: false });

/** Exponential backoff: initial × 2^(failures−1), capped. */
export function backoffDelay(consecutiveFailures: number, policy: RelayPolicy): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  // 2^30 already exceeds any sane cap; stopping there avoids Infinity.
  return Math.min(policy.retryMaxMs, policy.retryInitialMs * 2 ** Math.min(exponent, 30));
}

const SEND: RelayEffect = { type: "send" };

function backingOff(state: RelayState, policy: RelayPolicy): RelayStep {
  return {
    state: { ...state, phase: "backing-off", wakePending: false, inFlight: 0, failing: false },
    effects: [{ type: "wait", ms: backoffDelay(state.consecutiveFailures, policy) }],
  };
}

export function nextRelay(state: RelayState, event: RelayEvent, policy: RelayPolicy): RelayStep {
  const stay: RelayStep = { state, effects: [] };
  if (state.phase === "closed") return stay;
  if (event.type === "close") return { state: { ...state, phase: "closed" }, effects: [{ type: "cancel-wait" }] };
  const inFlight = state.inFlight ?? (state.phase === "sending" ? 1 : 0);

  switch (state.phase) {
    case "idle":
      if (event.type === "wake" || event.type === "timer") {
        return { state: { ...state, phase: "sending", wakePending: false, inFlight: 1, failing: false }, effects: [{ type: "cancel-wait" }, SEND] };
      }
      return stay;

    case "sending":
      if (event.type === "wake") {
        if (state.failing) return stay;
        if (!state.behind && inFlight < (policy.window ?? 1)) return { state: { ...state, inFlight: inFlight + 1 }, effects: [SEND] };
        return { state: { ...state, wakePending: true }, effects: [] };
      }
      if (event.type === "sent") {
        const left = inFlight - 1;
        if (state.failing) return left > 0 ? { state: { ...state, inFlight: left }, effects: [] } : backingOff(state, policy);
        const again = event.more || state.wakePending || event.held === true;
        if (again) return { state: { ...state, consecutiveFailures: 0, wakePending: false, inFlight: left + 1, behind: event.more }, effects: [SEND] };
        if (left > 0) return { state: { ...state, consecutiveFailures: 0, inFlight: left, behind: false }, effects: [] };
        return { state: { ...state, phase: "idle", consecutiveFailures: 0, wakePending: false, inFlight: 0, behind: false }, effects: [{ type: "wait", ms: policy.intervalMs }] };
      }
      if (event.type === "failed") {
        // One failure per round of sends, however many of those in flight fail with it.
        const failed: RelayState = state.failing ? state : { ...state, consecutiveFailures: state.consecutiveFailures + 1, failing: true };
        const left = inFlight - 1;
        return left > 0 ? { state: { ...failed, inFlight: left }, effects: [] } : backingOff(failed, policy);
      }
      return stay;

    case "backing-off":
      // A new observation does not make the cloud reachable: the timer ends a backoff, or the link coming back.
      if (event.type === "timer") return { state: { ...state, phase: "sending", inFlight: 1 }, effects: [SEND] };
      if (event.type === "link-up") return { state: { ...state, phase: "sending", inFlight: 1 }, effects: [{ type: "cancel-wait" }, SEND] };
      return stay;
  }
}
