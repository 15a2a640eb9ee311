/*
 * The `ctx` a rule's handlers get: what one event may do, collected as plain
 * data for the gateway to commit. Every value a rule hands in is copied and
 * checked here, while the rule's own budget runs (a getter or a Proxy in
 * what it passes is its code, and is metered as such); nothing the rule gave
 * is touched once its event is over.
 *
 * One context per loaded rule, opened for each event and closed after it:
 * a call from a promise job or a stashed reference after the event fails.
 */
import "./freeze.js";
import type { AlertDetails, DerivedObservation, RuleContext } from "../../../../rules/index.js";
import {
  MAX_ALERT_DATA, MAX_ALERT_KEYS, MAX_ALERTS_PER_EVENT, MAX_DERIVED_PER_EVENT, MAX_KEY_CHARS, MAX_MESSAGE_CHARS, MAX_TIMERS,
  MAX_TRACE_CHARS, MAX_TRACES_PER_EVENT, type AlertOutput, type DerivedOutput, type EventResult,
} from "./protocol.js";

/** The part of a rule's durable state the runtime keeps: alerts (on/off and changes so far), timers, the event clock. */
export interface RuntimeState {
  /** The rule's own state. */
  s: unknown;
  /** Alert key → [1 on / 0 off, changes so far]. */
  a: Record<string, [number, number]>;
  /** Timer key → due time. */
  t: Record<string, number>;
  /** The latest event time seen (event times never go back). */
  w: number;
}

/** Something the rule asked for that is not allowed: the event fails with kind "output". */
export class OutputError extends Error {
  // A field, not `this.name = ...`: the hardened Error.prototype.name would refuse the assignment.
  override readonly name = "OutputError";
}

const SENSOR_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_READINGS = 8;
const SEVERITIES = ["info", "warning", "critical"];

function text(value: unknown, what: string, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) throw new OutputError(`${what} must be a string of 1 to ${max} characters`);
  return value;
}

function finite(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new OutputError(`${what} must be a finite number`);
  return value;
}

function format(values: readonly unknown[]): string {
  const line = values.map((v) => (typeof v === "string" ? v : safeJson(v))).join(" ");
  return line.length > MAX_TRACE_CHARS ? `${line.slice(0, MAX_TRACE_CHARS)}…` : line;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export class EventContext implements RuleContext<unknown> {
  readonly #runtime: () => RuntimeState;
  readonly #quantities: ReadonlySet<string>;
  readonly #decidesRelay: boolean;
  #open = false;
  #now = 0;
  #observationId: number | null = null;
  #timer: string | null = null;
  #result: EventResult | undefined;
  #droppedTraces = 0;
  /** The earliest due time set since the last takeEarliestSet(): the slot's bound on when a timer can next fire. */
  #earliestSet = Infinity;

  constructor(runtime: () => RuntimeState, quantities: readonly string[], decidesRelay: boolean) {
    this.#runtime = runtime;
    this.#quantities = new Set(quantities);
    this.#decidesRelay = decidesRelay;
  }

  /** Starts an event at time `now`, for an observation or a timer. */
  open(now: number, observationId: number | null, timer: string | null): void {
    this.#open = true;
    this.#now = now;
    this.#observationId = observationId;
    this.#timer = timer;
    this.#result = undefined;
  }

  /** Ends the event; what it did, or undefined when it did nothing. */
  close(): EventResult | undefined {
    this.#open = false;
    return this.#result;
  }

  /** The earliest due time any setTimer asked for since the last call (Infinity: none), and forgets it. */
  takeEarliestSet(): number {
    const earliest = this.#earliestSet;
    this.#earliestSet = Infinity;
    return earliest;
  }

  /** Traces the rule made outside any event (module code, promise jobs): dropped, counted. */
  get droppedTraces(): number {
    return this.#droppedTraces;
  }

  get state(): unknown {
    return this.#runtime().s;
  }

  set state(value: unknown) {
    this.#check();
    this.#runtime().s = value;
  }

  get now(): number {
    return this.#now;
  }

  derive(observation: DerivedObservation): void {
    const result = this.#output();
    if (result.derived.length >= MAX_DERIVED_PER_EVENT) throw new OutputError(`an event may derive at most ${MAX_DERIVED_PER_EVENT} observations`);
    if (typeof observation !== "object" || observation === null) throw new OutputError("derive() takes { sensorId, readings, time? }");
    const sensorId = observation.sensorId;
    if (typeof sensorId !== "string" || !SENSOR_ID.test(sensorId)) throw new OutputError(`derived sensorId must be 1 to 64 of A-Z a-z 0-9 . _ : -, got ${safeJson(sensorId)}`);
    const given = observation.readings;
    if (!Array.isArray(given) || given.length === 0 || given.length > MAX_READINGS) throw new OutputError(`derived readings must be an array of 1 to ${MAX_READINGS}`);
    const readings = given.map((reading: unknown, i: number) => {
      const { quantity, value } = (reading ?? {}) as { quantity?: unknown; value?: unknown };
      if (typeof quantity !== "string" || !this.#quantities.has(quantity)) {
        throw new OutputError(`derived readings[${i}].quantity must be one of ${[...this.#quantities].join(", ")}, got ${safeJson(quantity)}`);
      }
      return { quantity, value: finite(value, `derived readings[${i}].value`) };
    });
    const time = observation.time === undefined ? this.#now : finite(observation.time, "derived time");
    result.derived.push({ sensorId, readings, time } as DerivedOutput);
  }

  alert(key: string, active: boolean, details?: AlertDetails): void {
    this.#check();
    text(key, "alert key", MAX_KEY_CHARS);
    if (typeof active !== "boolean") throw new OutputError("alert(key, active) takes a boolean");
    const copied = copyDetails(details);
    const alerts = this.#runtime().a;
    const known = alerts[key];
    // Deduplication: only a change is an alert (an unknown key is off).
    if ((known?.[0] === 1) === active) return;
    const result = this.#output();
    if (known === undefined && Object.keys(alerts).length >= MAX_ALERT_KEYS) throw new OutputError(`a rule may hold at most ${MAX_ALERT_KEYS} alert keys`);
    if (result.alerts.length >= MAX_ALERTS_PER_EVENT) throw new OutputError(`an event may change at most ${MAX_ALERTS_PER_EVENT} alerts`);
    const n = (known?.[1] ?? 0) + 1;
    alerts[key] = [active ? 1 : 0, n];
    result.alerts.push({ key, active, n, at: this.#now, details: copied } as AlertOutput);
  }

  isAlerting(key: string): boolean {
    return this.#runtime().a[key]?.[0] === 1;
  }

  keepLocal(): void {
    const result = this.#output();
    if (!this.#decidesRelay) throw new OutputError('keepLocal() needs relay: "decide" in the rule\'s definition');
    if (this.#observationId === null) throw new OutputError("keepLocal() is for onObservation: a timer has no observation to keep");
    result.keepLocal = true;
  }

  setTimer(key: string, at: number): void {
    this.#check();
    text(key, "timer key", MAX_KEY_CHARS);
    finite(at, "timer time");
    // A timer due now would fire again at once: an endless run of events.
    if (!(at > this.#now)) throw new OutputError(`a timer must be due after ctx.now (${this.#now}), got ${at}`);
    const timers = this.#runtime().t;
    if (!(key in timers) && Object.keys(timers).length >= MAX_TIMERS) throw new OutputError(`a rule may hold at most ${MAX_TIMERS} timers`);
    timers[key] = at;
    if (at < this.#earliestSet) this.#earliestSet = at;
  }

  clearTimer(key: string): void {
    this.#check();
    delete this.#runtime().t[text(key, "timer key", MAX_KEY_CHARS)];
  }

  trace(...values: unknown[]): void {
    if (!this.#open) {
      this.#droppedTraces++;
      return;
    }
    const result = this.#output();
    if (result.traces.length >= MAX_TRACES_PER_EVENT) return;
    result.traces.push(format(values));
  }

  #check(): void {
    if (!this.#open) throw new OutputError("this context's event is over: ctx may be used only while its handler runs");
  }

  #output(): EventResult {
    this.#check();
    return (this.#result ??= {
      observationId: this.#observationId, timer: this.#timer, at: this.#now, derived: [], alerts: [], keepLocal: false, traces: [],
    });
  }
}

harden(OutputError);
// Shared by every rule's context: frozen, so no rule can change another's ctx methods.
harden(EventContext);

function copyDetails(details: AlertDetails | undefined): AlertDetails {
  if (details === undefined) return {};
  if (typeof details !== "object" || details === null) throw new OutputError("alert details must be an object");
  const copy: { message?: string; severity?: AlertDetails["severity"]; sensorId?: string; data?: Record<string, string | number | boolean | null> } = {};
  if (details.message !== undefined) copy.message = text(details.message, "alert message", MAX_MESSAGE_CHARS);
  if (details.severity !== undefined) {
    if (!SEVERITIES.includes(details.severity)) throw new OutputError(`alert severity must be one of ${SEVERITIES.join(", ")}`);
    copy.severity = details.severity;
  }
  if (details.sensorId !== undefined) copy.sensorId = text(details.sensorId, "alert sensorId", 64);
  if (details.data !== undefined) {
    const entries = Object.entries(details.data ?? {});
    if (entries.length > MAX_ALERT_DATA) throw new OutputError(`alert data may hold at most ${MAX_ALERT_DATA} entries`);
    const data: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of entries) {
      if (value !== null && typeof value !== "boolean" && typeof value !== "string" && !(typeof value === "number" && Number.isFinite(value))) {
        throw new OutputError(`alert data.${key} must be a string, finite number, boolean or null`);
      }
      data[text(key, "alert data key", MAX_KEY_CHARS)] = typeof value === "string" ? value.slice(0, MAX_MESSAGE_CHARS) : value;
    }
    copy.data = data;
  }
  return copy;
}
