/*
 * One loaded version of one rule: its Compartment, its checked definition,
 * its state, and the events the gateway delivers to it.
 *
 * The Compartment's globals are the frozen built-ins plus freeze.ts's
 * ruleGlobals (a Date without a clock, a `trace` that goes to the rule's
 * log): nothing of the host. Everything the rule's code runs, from its
 * module body to a getter on what it returns, runs inside a metered budget.
 *
 * Events are atomic per delivery: a fault in one event fails the delivery,
 * the gateway commits nothing of it and loads the rule again from its last
 * committed state (this slot refuses further deliveries until then).
 */
import type { Observation, RuleDefinition } from "../../../../rules/index.js";
import { EventContext, type RuntimeState } from "./event-context.js";
import { ruleGlobals } from "./freeze.js";
import { RuleFault, run } from "./rule-fault.js";
import { SelfTestHarness, SELF_TEST_BUDGET_EVENTS } from "./self-test.js";
import {
  MAX_TIMER_EVENTS_PER_DELIVERY, RULE_NAME_PATTERN, type DeliverReply, type EventResult, type Fault,
  type HostRequest, type ResolvedLimits, type RuleSummary, type WireEvent,
} from "./protocol.js";

type LoadRequest = Extract<HostRequest, { op: "load" }>;

/** Module evaluation and initialState may use this many events' budget: a rule may build tables once. */
const LOAD_BUDGET_EVENTS = 10;
const SENSOR_PATTERN = /^[A-Za-z0-9._:*?-]{1,64}$/;
const MAX_SENSOR_PATTERNS = 32;

function loadFault(message: string): RuleFault {
  return new RuleFault({ kind: "load", message, handler: "module" });
}

function limit(asked: unknown, name: keyof ResolvedLimits, defaults: ResolvedLimits, maxima: ResolvedLimits): number {
  if (asked === undefined) return defaults[name];
  if (typeof asked !== "number" || !Number.isInteger(asked) || asked < 1 || asked > maxima[name]) {
    throw loadFault(`limits.${name} must be an integer from 1 to ${maxima[name]} (the gateway's ceiling), got ${String(asked)}`);
  }
  return asked;
}

/** Checks a definition's shape (read within the load budget: its properties may be getters). */
function summarize(definition: RuleDefinition, request: LoadRequest, quantities: readonly string[]): RuleSummary {
  if (typeof definition !== "object" || definition === null) throw loadFault("the module's default export must be defineRule({ ... })");
  const { name, description, select, relay, start, limits, initialState, onObservation, onTimer, selfTest } = definition;
  if (typeof name !== "string" || !RULE_NAME_PATTERN.test(name)) throw loadFault(`name must be 1 to 63 lower-case letters, digits or "-", got ${JSON.stringify(name)}`);
  if (typeof select !== "object" || select === null) throw loadFault("select must be { sensors, quantities? }");
  const sensors = typeof select.sensors === "string" ? [select.sensors] : select.sensors;
  if (!Array.isArray(sensors) || sensors.length === 0 || sensors.length > MAX_SENSOR_PATTERNS || !sensors.every((p) => typeof p === "string" && SENSOR_PATTERN.test(p))) {
    throw loadFault(`select.sensors must be 1 to ${MAX_SENSOR_PATTERNS} sensor ids or patterns (sensor id characters, * and ?)`);
  }
  let selected: string[] | null = null;
  if (select.quantities !== undefined) {
    if (!Array.isArray(select.quantities) || select.quantities.length === 0 || !select.quantities.every((q) => quantities.includes(q))) {
      throw loadFault(`select.quantities must name some of ${quantities.join(", ")}`);
    }
    selected = [...select.quantities];
  }
  if (relay !== undefined && relay !== "all" && relay !== "decide") throw loadFault('relay must be "all" or "decide"');
  if (start !== undefined && start !== "new" && start !== "stored") throw loadFault('start must be "new" or "stored"');
  if (typeof initialState !== "function") throw loadFault("initialState() is required (return {} for a rule without state)");
  for (const [key, value] of [["onObservation", onObservation], ["onTimer", onTimer], ["selfTest", selfTest]] as const) {
    if (value !== undefined && typeof value !== "function") throw loadFault(`${key} must be a function`);
  }
  if (onObservation === undefined && onTimer === undefined) throw loadFault("a rule needs onObservation, onTimer or both");
  if (limits !== undefined && (typeof limits !== "object" || limits === null)) throw loadFault("limits must be an object");
  const { defaults, maxima } = request;
  return {
    name,
    description: typeof description === "string" ? description.slice(0, 500) : "",
    sensors: [...sensors],
    quantities: selected,
    relay: relay ?? "all",
    start: start ?? "new",
    limits: {
      computePerEvent: limit(limits?.computePerEvent, "computePerEvent", defaults, maxima),
      memoryBytes: limit(limits?.memoryBytes, "memoryBytes", defaults, maxima),
      stateBytes: limit(limits?.stateBytes, "stateBytes", defaults, maxima),
    },
    handlers: { onObservation: onObservation !== undefined, onTimer: onTimer !== undefined, selfTest: selfTest !== undefined },
  };
}

function parseRuntime(json: string): RuntimeState {
  const state = JSON.parse(json) as RuntimeState;
  if (typeof state !== "object" || state === null || typeof state.a !== "object" || typeof state.t !== "object" || typeof state.w !== "number") {
    throw loadFault("the stored state is not a rule state");
  }
  return state;
}

export class RuleSlot {
  readonly summary: RuleSummary;
  readonly #request: LoadRequest;
  readonly #quantities: readonly string[];
  readonly #definition: RuleDefinition;
  readonly #context: EventContext;
  #runtime: RuntimeState;
  #broken: Fault | undefined;
  /**
   * No timer is due before this (a lower bound, -Infinity: not known). Events come far more often than timers
   * fire, and a rule may hold a timer per sensor: without it every event would scan them all (measured: a
   * silence alert on 100 sensors spent 8 times a dew point's compute per event on that scan).
   */
  #timersFrom = -Infinity;

  constructor(request: LoadRequest, quantities: readonly string[]) {
    this.#request = request;
    this.#quantities = quantities;
    let context: EventContext | undefined;
    const trace = (...values: unknown[]) => context?.trace(...values);
    const budget = request.defaults.computePerEvent * LOAD_BUDGET_EVENTS;
    const loaded = run(budget, "module", () => {
      const compartment = new Compartment({
        globals: ruleGlobals(trace),
        // sourceURL names the module in stack frames ("at onObservation (freezer.js:12)"), which the gateway maps to the .ts.
        modules: { rule: { source: new ModuleSource(`${request.code}\n//# sourceURL=${request.file}\n`), specifier: request.file } },
      });
      const definition = compartment.importNow("rule").default as RuleDefinition;
      return { definition, summary: summarize(definition, request, quantities) };
    }).value;
    this.#definition = loaded.definition;
    this.summary = loaded.summary;
    this.#runtime = { s: undefined, a: {}, t: {}, w: 0 };
    context = new EventContext(() => this.#runtime, quantities, this.summary.relay === "decide");
    this.#context = context;
    if (request.state !== null) this.#runtime = parseRuntime(request.state);
    else {
      const initial = run(budget, "initialState", () => this.#definition.initialState()).value;
      this.#runtime.s = initial;
      this.serialize();
    }
  }

  /** Runs the rule's self-test, if it has one, on a fresh instance of this version (its own module, its initial state). */
  selfTest(): void {
    if (!this.summary.handlers.selfTest) return;
    const fresh = new RuleSlot({ ...this.#request, state: null }, this.#quantities);
    const selfTest = fresh.#definition.selfTest!;
    const harness = new SelfTestHarness(fresh, () => fresh.#runtime.s);
    run(this.summary.limits.computePerEvent * SELF_TEST_BUDGET_EVENTS, "selfTest", () => selfTest.call(fresh.#definition, harness));
  }

  /** Replaces the state with another version's (a hand-over). */
  adopt(state: string): void {
    this.#runtime = parseRuntime(state);
    this.#timersFrom = -Infinity;
    this.#broken = undefined;
  }

  /** The state as JSON, checked against stateBytes; costs the rule's per-event budget. */
  serialize(): string {
    const { stateBytes, computePerEvent } = this.summary.limits;
    const json = run(computePerEvent, "state", () => JSON.stringify(this.#runtime)).value;
    if (typeof json !== "string") throw new RuleFault({ kind: "state", message: "the state is not JSON", handler: "state" });
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only count them when that could matter.
    const bytes = json.length * 3 <= stateBytes ? json.length : new TextEncoder().encode(json).byteLength;
    if (bytes > stateBytes) {
      throw new RuleFault({ kind: "state", message: `the state is ${bytes} bytes of JSON, over this rule's stateBytes of ${stateBytes}`, handler: "state" });
    }
    return json;
  }

  deliver(events: readonly WireEvent[]): DeliverReply {
    if (this.#broken) return { ok: false, error: this.#broken, observationId: null, timer: null };
    const results: EventResult[] = [];
    const stats = { events: 0, computeTotal: 0, computeMax: 0, timerEvents: 0 };
    let current: { observationId: number | null; timer: string | null } = { observationId: null, timer: null };
    try {
      for (const event of events) {
        if (event.kind === "observation") {
          const now = Math.max(this.#runtime.w, event.o.receivedAt);
          current = { observationId: null, timer: null };
          this.#fireTimers(now, results, stats, (timer) => (current = { observationId: null, timer }));
          this.#runtime.w = now;
          current = { observationId: event.o.id, timer: null };
          const onObservation = this.#definition.onObservation;
          if (onObservation) this.#event(now, event.o.id, null, results, stats, () => onObservation.call(this.#definition, event.o as Observation, this.#context));
        } else {
          this.#fireTimers(event.now, results, stats, (timer) => (current = { observationId: null, timer }));
          this.#runtime.w = Math.max(this.#runtime.w, event.now);
        }
      }
      current = { observationId: null, timer: null };
      const state = this.serialize();
      return { ok: true, results, state, nextTimerAt: this.#nextTimerAt(), ...stats };
    } catch (e) {
      const error = e instanceof RuleFault ? e.fault : { kind: "crash" as const, message: `rule host: ${String(e)}` };
      this.#broken = error;
      return { ok: false, error, ...current };
    }
  }

  /** Runs one handler as one event: its own budget, an open context. */
  #event(now: number, observationId: number | null, timer: string | null, results: EventResult[], stats: { events: number; computeTotal: number; computeMax: number }, work: () => void): void {
    this.#context.open(now, observationId, timer);
    let used: number;
    try {
      used = run(this.summary.limits.computePerEvent, timer === null ? "onObservation" : "onTimer", work).used;
    } finally {
      const result = this.#context.close();
      if (result) results.push(result);
      const earliest = this.#context.takeEarliestSet();
      if (earliest < this.#timersFrom) this.#timersFrom = earliest;
    }
    stats.events++;
    stats.computeTotal += used;
    if (used > stats.computeMax) stats.computeMax = used;
  }

  /** Fires the timers due by `now`, oldest first (ties by key), each as an event at its due time. */
  #fireTimers(now: number, results: EventResult[], stats: { events: number; computeTotal: number; computeMax: number; timerEvents: number }, note: (timer: string) => void): void {
    const onTimer = this.#definition.onTimer;
    const timers = this.#runtime.t;
    for (;;) {
      if (now < this.#timersFrom || stats.timerEvents >= MAX_TIMER_EVENTS_PER_DELIVERY) return;
      let key: string | undefined;
      let at = Infinity;
      let earliest = Infinity;
      for (const k in timers) {
        const due = timers[k];
        if (due < earliest) earliest = due;
        if (due <= now && (due < at || (due === at && k < (key as string)))) {
          key = k;
          at = due;
        }
      }
      if (key === undefined) {
        this.#timersFrom = earliest;
        return;
      }
      const timer = key;
      delete timers[timer];
      stats.timerEvents++;
      this.#runtime.w = Math.max(this.#runtime.w, at);
      note(timer);
      if (onTimer) this.#event(this.#runtime.w, null, timer, results, stats, () => onTimer.call(this.#definition, timer, this.#context));
    }
  }

  #nextTimerAt(): number | null {
    let next: number | null = null;
    for (const key in this.#runtime.t) {
      const at = this.#runtime.t[key];
      if (next === null || at < next) next = at;
    }
    return next;
  }
}
