/*
 * xsedge/rules: the API a gateway rule is written against.
 *
 * A rule is one TypeScript module whose default export is `defineRule({...})`.
 * The gateway type-checks it against this file alone (no Node types, no DOM),
 * bundles it with the helpers below, and runs it on the XS engine inside the
 * gateway, in a Compartment of its own whose built-ins are frozen. A rule
 * has no ambient authority: no files, no sockets, no clock and no randomness
 * but what its context hands it. That is what makes a rule safe to run
 * beside the gateway, and what makes it replayable: given the same
 * observations and the same state, it does the same thing, so after a crash
 * the gateway re-runs it from its last committed offset and nothing it
 * derives is lost or doubled.
 *
 * See the README's "Gateway rules" section and examples/rules/ for worked
 * examples (dew point, five-minute averages, a silence alert, a freezer
 * alarm with hysteresis).
 */
import type { Quantity, Reading } from "../modules/observation/record.js";

export type { Quantity, Reading };

/**
 * An observation as a rule sees it: what the device sent, as the gateway
 * committed it. Plain data: a rule may read it and keep copies in its state.
 */
export interface Observation {
  /** The store's row id: the rule's offset. Ids only grow, in commit order. */
  readonly id: number;
  readonly sensorId: string;
  /** The device's sequence number (per sensor, strictly increasing). */
  readonly seq: number;
  /** Wall time of the sample (ms since the Unix epoch), null while the device's boot has no clock anchor yet. */
  readonly time: number | null;
  /** The gateway's clock when it received the observation. */
  readonly receivedAt: number;
  readonly readings: readonly Reading[];
}

/** Which observations a rule is given. */
export interface Selection {
  /**
   * Sensor ids, or patterns where `*` stands for any run of characters and
   * `?` for one ("greenhouse-*"). One pattern or several (any may match).
   */
  sensors: string | readonly string[];
  /** Only observations carrying at least one of these; all quantities if absent. */
  quantities?: readonly Quantity[];
}

/**
 * What a rule may spend. Each has a default and a ceiling set by the gateway
 * (its README's "Gateway rules" table); a rule asks for more only when its
 * work needs it.
 */
export interface RuleLimits {
  /** XS computrons (the engine's meter) one event may use: an infinite loop stops here. */
  computePerEvent?: number;
  /** Bytes the engine's heap may grow while the rule handles one delivery of events. */
  memoryBytes?: number;
  /** Bytes of the rule's state as JSON, kept durably with its offset. */
  stateBytes?: number;
}

/** A derived observation: a virtual sensor, or a quantity a device does not measure. */
export interface DerivedObservation {
  /**
   * The virtual sensor's id (same characters as a device's, e.g.
   * "greenhouse-7.dewpoint"). It must not be a registered device's, and it
   * belongs to the first rule that derives it: another rule deriving the
   * same id fails.
   */
  sensorId: string;
  readings: readonly Reading[];
  /** Wall time of the derived value; the event's `ctx.now` by default. */
  time?: number;
}

export type Severity = "info" | "warning" | "critical";

/** What an alert says when it is raised or cleared. */
export interface AlertDetails {
  message?: string;
  severity?: Severity;
  /** The sensor it concerns, if one. */
  sensorId?: string;
  /** Any JSON values worth sending with it (the reading that tripped it, say). */
  data?: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * What an event may do. Only calls made while the event runs count: the
 * gateway commits them all, with the rule's state and offset, in one
 * transaction.
 */
export interface RuleContext<S> {
  /**
   * The rule's state: whatever JSON-compatible value `initialState` made,
   * changed in place or replaced. Kept durably with the rule's offset, given
   * back after a restart or a redeploy. Module-level variables are not: a
   * restart of the engine loses them.
   */
  state: S;
  /**
   * The time of this event on the gateway's clock: the observation's receipt
   * (never earlier than an earlier event's), or the timer's due time. The
   * only clock a rule has, so a replay sees the same times.
   */
  readonly now: number;
  /** Stores a derived observation, relayed to the cloud like any other. */
  derive(observation: DerivedObservation): void;
  /**
   * Sets the alert `key` on (raised) or off (cleared). Only a change is sent:
   * setting an alert that is already on does nothing (deduplication). Each
   * change reaches every alert sink at least once, with an idempotency key.
   */
  alert(key: string, active: boolean, details?: AlertDetails): void;
  /** Whether alert `key` is on now. */
  isAlerting(key: string): boolean;
  /**
   * Keeps the observation being handled at the gateway instead of relaying
   * it to the cloud (downsampling). Only for a rule with `relay: "decide"`,
   * and only in onObservation.
   */
  keepLocal(): void;
  /** Calls onTimer(key) once `ctx.now` reaches `at` (replacing the key's earlier timer). */
  setTimer(key: string, at: number): void;
  clearTimer(key: string): void;
  /** A line in the gateway's log under the rule's name (rate-limited). The global `trace` does the same. */
  trace(...values: unknown[]): void;
}

/** What one event did, as a self-test sees it. */
export interface Outcome {
  readonly derived: readonly DerivedObservation[];
  readonly alerts: readonly { key: string; active: boolean; details: AlertDetails }[];
  readonly keptLocal: boolean;
}

/** An observation for a self-test: ids, seq and times are filled in when absent. */
export interface TestObservation {
  sensorId: string;
  readings: readonly Reading[];
  seq?: number;
  time?: number | null;
  receivedAt?: number;
}

/**
 * A rule's self-test runs at every deploy, on a fresh state, before the new
 * version takes over; one that throws (or whose `check` fails) leaves the
 * running version in place.
 */
export interface SelfTest<S> {
  /** Handles one observation, at `receivedAt` (default: 1 s after the previous event). */
  observe(observation: TestObservation): Outcome;
  /** Moves the test clock to `now`, firing the timers due on the way. */
  advanceTo(now: number): Outcome[];
  /** The rule's state between events. */
  readonly state: S;
  /** Fails the self-test with `message` unless `condition` holds. */
  check(condition: boolean, message: string): void;
}

export interface RuleDefinition<S = unknown> {
  /** Lower-case letters, digits and "-", 1 to 63 characters: the rule's name everywhere (CLI, API, log, metrics). */
  name: string;
  description?: string;
  select: Selection;
  /**
   * "all" (default): every selected observation is relayed. "decide": the
   * rule says per observation, with ctx.keepLocal(); the relay waits for its
   * verdict (up to the gateway's rules.verdictWaitMs, then relays anyway).
   */
  relay?: "all" | "decide";
  /** Where a rule deployed for the first time starts: "new" (default) after what is stored now, "stored" from the oldest stored observation. */
  start?: "new" | "stored";
  limits?: RuleLimits;
  /** The state a rule starts with (it must survive JSON: no functions, Maps, cycles). */
  initialState(): S;
  onObservation?(observation: Observation, ctx: RuleContext<S>): void;
  onTimer?(key: string, ctx: RuleContext<S>): void;
  selfTest?(test: SelfTest<S>): void;
}

/** Declares a rule; the module's default export must be its result. Typed, so the state's type flows through. */
export function defineRule<S>(definition: RuleDefinition<S>): RuleDefinition<S> {
  return definition;
}

/** The value of a quantity in an observation's (or derived observation's) readings; undefined if it has none. */
export function readingOf(observation: { readonly readings: readonly Reading[] }, quantity: Quantity): number | undefined {
  for (const reading of observation.readings) if (reading.quantity === quantity) return reading.value;
  return undefined;
}

/** Bounds of a hysteresis: on past one threshold, off only past the other, so a value wavering at one edge does not flap. */
export type HysteresisBounds = { raiseAbove: number; clearBelow: number } | { raiseBelow: number; clearAbove: number };

/**
 * Whether an alert should be on, given whether it is on now and the latest
 * value: an alert raised above 8 °C and cleared below 6 °C stays on at 7 °C.
 */
export function hysteresis(active: boolean, value: number, bounds: HysteresisBounds): boolean {
  if ("raiseAbove" in bounds) {
    if (!(bounds.clearBelow <= bounds.raiseAbove)) throw new RangeError("hysteresis: clearBelow must not be above raiseAbove");
    return active ? !(value < bounds.clearBelow) : value > bounds.raiseAbove;
  }
  if (!(bounds.clearAbove >= bounds.raiseBelow)) throw new RangeError("hysteresis: clearAbove must not be below raiseBelow");
  return active ? !(value > bounds.clearAbove) : value < bounds.raiseBelow;
}

declare global {
  /** Moddable's trace: in a rule, a line in the gateway's log under the rule's name (as ctx.trace). */
  function trace(...values: unknown[]): void;
}
