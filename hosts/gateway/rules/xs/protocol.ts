/*
 * What the gateway and the rule host inside xsnap-worker say to each other:
 * one JSON request per `?` message, one JSON reply. Shared by both sides
 * (plain data and constants only, so either runtime can import it).
 *
 * A slot is one loaded version of one rule ("freezer-alarm@3"): two
 * versions of a rule sit in two slots while one hands over to the other.
 */
import type { AlertDetails, Observation, Reading } from "../../../../rules/index.js";

/** Per-event output caps: an event that needs more is a rule bug, and the reply stays small. */
export const MAX_DERIVED_PER_EVENT = 16;
export const MAX_ALERTS_PER_EVENT = 16;
export const MAX_TRACES_PER_EVENT = 8;
/** Characters of one trace line, of an alert key, of an alert message. */
export const MAX_TRACE_CHARS = 500;
export const MAX_KEY_CHARS = 128;
export const MAX_MESSAGE_CHARS = 500;
/** Entries in an alert's data. */
export const MAX_ALERT_DATA = 16;
/** Alert keys and timers a rule may hold (each costs state and a check per event). */
export const MAX_ALERT_KEYS = 1000;
export const MAX_TIMERS = 1000;
/** Timer callbacks one delivery runs at most; the rest run in the next (a tick after a long pause may owe many). */
export const MAX_TIMER_EVENTS_PER_DELIVERY = 1000;
/** Rule names: what the CLI, the API, the log and the metrics call it. */
export const RULE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Limits as the gateway resolves them for one rule. */
export interface ResolvedLimits {
  computePerEvent: number;
  memoryBytes: number;
  stateBytes: number;
}

/** An observation as delivered (the rule API's Observation). */
export type WireObservation = Observation;

export type WireEvent =
  | { kind: "observation"; o: WireObservation }
  /** The gateway's clock passed `now` with the rule caught up: timers due by then fire. */
  | { kind: "tick"; now: number };

export type HostRequest =
  | { op: "load"; slot: string; code: string; file: string; state: string | null; defaults: ResolvedLimits; maxima: ResolvedLimits }
  | { op: "deliver"; slot: string; events: WireEvent[] }
  | { op: "selfTest"; slot: string }
  | { op: "adopt"; slot: string; state: string }
  | { op: "unload"; slot: string };

/** What a loaded rule declared, checked. */
export interface RuleSummary {
  name: string;
  description: string;
  sensors: string[];
  quantities: string[] | null;
  relay: "all" | "decide";
  start: "new" | "stored";
  limits: ResolvedLimits;
  handlers: { onObservation: boolean; onTimer: boolean; selfTest: boolean };
}

export type FaultKind =
  /** The rule threw. */
  | "throw"
  /** It asked for something not allowed (a bad derived observation, too many alerts, keepLocal without relay: "decide"). */
  | "output"
  /** Its state is not JSON, or over its stateBytes. */
  | "state"
  /** Loading it failed: a syntax error, a bad definition, a throw at module level. */
  | "load"
  /** Its self-test failed. */
  | "self-test"
  /** Seen by the gateway, not the host: the compute budget ran out (the engine stops there). */
  | "compute"
  /** The heap grew past memoryBytes in a delivery, or the engine ran out of memory. */
  | "memory"
  /** The engine died otherwise (stack overflow, a signal) or a delivery overran the watchdog. */
  | "crash";

export interface Fault {
  kind: FaultKind;
  message: string;
  /** The engine's stack, when it threw (frames in the bundle; the gateway maps them to the .ts). */
  stack?: string;
  /** onObservation, onTimer, initialState, selfTest, or "module" for top-level code. */
  handler?: string;
}

export interface DerivedOutput {
  sensorId: string;
  readings: Reading[];
  time: number;
}

export interface AlertOutput {
  key: string;
  active: boolean;
  /** How many times this key has changed, this change included: with the rule and key, the alert's idempotency key. */
  n: number;
  at: number;
  details: AlertDetails;
}

/** What one event did; only events that did something are in a reply. */
export interface EventResult {
  /** The observation handled, or null for a timer. */
  observationId: number | null;
  timer: string | null;
  at: number;
  derived: DerivedOutput[];
  alerts: AlertOutput[];
  keepLocal: boolean;
  traces: string[];
}

export type DeliverReply =
  | {
      ok: true;
      results: EventResult[];
      /** The state after the last event (runtime and rule parts), to commit with the offset. */
      state: string;
      nextTimerAt: number | null;
      events: number;
      computeTotal: number;
      computeMax: number;
    }
  | { ok: false; error: Fault; observationId: number | null; timer: string | null };

export type LoadReply = { ok: true; rule: RuleSummary } | { ok: false; error: Fault };
export type SimpleReply = { ok: true } | { ok: false; error: Fault };
