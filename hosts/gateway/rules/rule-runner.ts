/*
 * One rule at run time: reads the devices' observations after its offset,
 * delivers those it selects to its slot in a worker, hands what came back
 * to the commit queue, and deals with its faults.
 *
 * At most one delivery is in flight per rule; a rule may run ahead of its
 * commit (`pending` is the state after its last good delivery, `committed`
 * what SQLite holds). A fault discards the delivery it happened in and
 * nothing else: the rule stops, and after a backoff is loaded again from
 * its last good state and retried one event at a time until it is past the
 * event that failed (fault-policy.ts). A rule that falls behind only lags:
 * nothing here waits for it but its own next delivery.
 */
import type { Logger } from "../../log/logger.js";
import { QUANTITIES, type Quantity } from "../../../modules/observation/record.js";
import type { ObservationStore } from "../store/observation-store.js";
import type { CommitQueue } from "./rule-commits.js";
import type { InputWindow } from "./input-window.js";
import { roundReading } from "./rule-commits.js";
import type { DerivedSensors } from "./derived-sensors.js";
import { afterFault, MAX_CONSECUTIVE_FAILURES } from "./fault-policy.js";
import { describeFault, faultLine, type FaultContext } from "./fault-report.js";
import type { RuleVersion } from "./rule-version.js";
import { RuleTrace } from "./rule-trace.js";
import { WorkerDiedError, type RuleWorker, type WorkerDeath } from "./rule-worker.js";
import type { WorkerPool } from "./worker-pool.js";
import type { DeliverReply, EventResult, Fault, FaultKind, LoadReply, ResolvedLimits, SimpleReply, WireEvent } from "./xs/protocol.js";

/** Rows read per look at the store: a few hundred microseconds of SQLite on the event loop. */
export const READ_ROWS = 500;
/** Events per delivery at most: a few milliseconds of XS work, so rules sharing a worker take turns often. */
export const MAX_DELIVERY_EVENTS = 200;
/** A delivery's watchdog: this much, plus this much per event (the meter stops a loop long before). */
const WATCHDOG_BASE_MS = 5000;
const WATCHDOG_PER_EVENT_MS = 20;
const LOAD_TIMEOUT_MS = 10_000;
/**
 * Backlog counted exactly up to this (a scan of that many rows, well under
 * a millisecond); beyond it the lag is estimated from row ids, so /metrics
 * and the dashboard never block the event loop on a long backlog.
 */
export const MAX_COUNTED_LAG = 1000;

export type RunnerStatus = "running" | "stopped" | "disabled";

export interface RunnerEnv {
  store: ObservationStore;
  /** The devices' observations, read once for all rules. */
  inputs: InputWindow;
  pool: WorkerPool;
  commits: CommitQueue;
  derived: DerivedSensors;
  log: Logger;
  now(): number;
  limits: { defaults: ResolvedLimits; maxima: ResolvedLimits };
  /** A worker whose engine holds more than this is recycled after the delivery that grew it. */
  workerRecycleBytes: number;
  /** Waits before retrying a rule after its 1st, 2nd, ... fault (fault-policy.ts). */
  retryDelaysMs: readonly number[];
}

export interface RuleStats {
  name: string;
  version: number;
  hash: string;
  file: string;
  status: RunnerStatus;
  disabledReason: string | null;
  relay: "all" | "decide";
  sensors: string[];
  quantities: string[] | null;
  limits: ResolvedLimits;
  worker: number;
  /** The last observation id finished, and the last one committed. */
  position: number;
  committedPosition: number;
  /** Work done but not committed yet (a commit is at most COMMIT_INTERVAL_MS away). */
  uncommitted: boolean;
  /** Devices' observations not yet handled (exact up to MAX_COUNTED_LAG, estimated from row ids past it), and how long the oldest has waited. */
  lagObservations: number;
  lagMs: number;
  events: number;
  deliveries: number;
  derived: number;
  alerts: number;
  keptLocal: number;
  traces: number;
  failures: Partial<Record<FaultKind, number>>;
  failuresTotal: number;
  consecutiveFailures: number;
  lastError: { at: number; message: string } | null;
  /** Computrons of the costliest event of the last delivery, and per event on average. */
  computeMax: number;
  computePerEvent: number;
  stateBytes: number;
  nextTimerAt: number | null;
}

/** The fault kind a dead worker stands for, for the rule that was running on it. */
function deathKind(death: WorkerDeath): FaultKind {
  return death === "compute" ? "compute" : death === "memory" ? "memory" : "crash";
}

function deathMessage(error: WorkerDiedError, limits: ResolvedLimits): string {
  switch (error.death) {
    case "compute":
      return `used up its compute budget of ${limits.computePerEvent.toLocaleString("en")} computrons in one event (an endless loop?): the engine stopped it`;
    case "memory":
      return "the engine ran out of memory (the worker's rules.workerMemoryBytes): a memory blow-up";
    case "watchdog":
      return "a delivery overran its watchdog: the worker was killed";
    default:
      return `the engine stopped: ${error.message}`;
  }
}

export class RuleRunner {
  readonly name: string;
  readonly #env: RunnerEnv;
  readonly #trace: RuleTrace;
  #version: RuleVersion;
  #worker: number;
  #status: RunnerStatus;
  #disabledReason: string | null;
  #committed: { position: number; state: string | null };
  #pending: { position: number; state: string | null };
  /** Where the next read starts: the pending position, or past rows this rule does not select. */
  #position: number;
  #nextTimerAt: number | null = null;
  #inFlight: Promise<void> | undefined;
  #draining = false;
  /** The worker process the rule's slot is loaded in; none (or another) means it must be loaded first. */
  #loadedIn: RuleWorker | undefined;
  #wakeAgain = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #tickTimer: ReturnType<typeof setTimeout> | undefined;
  /** After a fault: deliver one observation at a time until past this id. */
  #cautiousThrough: number | null = null;
  #consecutive = 0;
  readonly #counts = { events: 0, deliveries: 0, derived: 0, alerts: 0, keptLocal: 0, computeMax: 0, computeTotal: 0 };
  readonly #failures: Partial<Record<FaultKind, number>> = {};
  #lastError: { at: number; message: string } | null = null;

  constructor(env: RunnerEnv, name: string, version: RuleVersion, start: { position: number; state: string | null; enabled: boolean; disabledReason: string | null }) {
    this.#env = env;
    this.name = name;
    this.#version = version;
    this.#trace = new RuleTrace(env.log.child(`rule/${name}`), env.now());
    this.#committed = { position: start.position, state: start.state };
    this.#pending = { ...this.#committed };
    this.#position = start.position;
    this.#status = start.enabled ? "running" : "disabled";
    this.#disabledReason = start.disabledReason;
    this.#worker = start.enabled ? env.pool.assign(name) : -1;
  }

  get version(): RuleVersion {
    return this.#version;
  }

  get status(): RunnerStatus {
    return this.#status;
  }

  get committedPosition(): number {
    return this.#committed.position;
  }

  /** Whether the relay should wait for this rule's verdicts (rules/relay-verdicts.ts). */
  get givesVerdicts(): boolean {
    return this.#status !== "disabled" && this.#version.summary.relay === "decide";
  }

  get selector() {
    return this.#version.selector;
  }

  get workerIndex(): number {
    return this.#worker;
  }

  /** New observations were stored (or a timer fell due): deliver what there is. */
  wake(): void {
    if (this.#inFlight) this.#wakeAgain = true;
    else this.#pump();
  }

  /** Its worker died: the slot is gone, to be loaded again (the rule that caused it is told through its own request). */
  workerLost(): void {
    this.#loadedIn = undefined;
    if (!this.#inFlight) this.#pump();
  }

  /** Stops new deliveries and waits for the one in flight (its results are queued for commit, or discarded if it faulted). */
  async drain(): Promise<void> {
    this.#draining = true;
    clearTimeout(this.#tickTimer);
    while (this.#inFlight) await this.#inFlight;
  }

  resume(): void {
    this.#draining = false;
    this.#pump();
  }

  /** What a hand-over starts the next version from: the position reached and the state after the last good delivery. */
  handOver(): { position: number; state: string | null } {
    return { position: this.#position, state: this.#pending.state };
  }

  /** The next version takes over, already loaded (with the state handed over) in `loadedIn`, or to be loaded when it runs. */
  useVersion(version: RuleVersion, loadedIn: RuleWorker | undefined): void {
    this.#version = version;
    this.#loadedIn = loadedIn;
    this.#consecutive = 0;
    this.#cautiousThrough = null;
    if (this.#status !== "running") {
      clearTimeout(this.#retryTimer);
      if (this.#worker < 0) this.#worker = this.#env.pool.assign(this.name);
      this.#status = "running";
      this.#disabledReason = null;
    }
  }

  /** Turns the rule off (an operator's disable, or too many faults): recorded in SQLite, its slot unloaded. */
  disable(reason: string): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#tickTimer);
    this.#status = "disabled";
    this.#disabledReason = reason;
    this.#env.store.rules.setEnabled(this.name, false, reason, this.#env.now());
    this.#unload(this.#version.slot);
    if (this.#worker >= 0) this.#env.pool.release(this.#worker, this.name);
    this.#worker = -1;
  }

  enable(): void {
    if (this.#status !== "disabled") return;
    this.#env.store.rules.setEnabled(this.name, true, null, this.#env.now());
    this.#status = "running";
    this.#disabledReason = null;
    this.#consecutive = 0;
    this.#loadedIn = undefined;
    this.#worker = this.#env.pool.assign(this.name);
    this.#pump();
  }

  /** Unloads a slot of this rule from its worker, if the worker runs. */
  unloadSlot(slot: string): void {
    this.#unload(slot);
  }

  close(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#tickTimer);
    this.#draining = true;
  }

  stats(): RuleStats {
    const { summary } = this.#version;
    const store = this.#env.store;
    const first = store.isOpen ? store.rules.inputsAfter(this.#position, 1)[0] : undefined;
    let lag = store.isOpen && first ? store.rules.backlog(this.#position, MAX_COUNTED_LAG) : 0;
    // Past the count, every row after the offset is taken for a device's: an estimate that errs by the rules' own outputs.
    if (lag >= MAX_COUNTED_LAG) lag = Math.max(lag, store.queries.latestId() - this.#position);
    let failuresTotal = 0;
    for (const n of Object.values(this.#failures)) failuresTotal += n ?? 0;
    return {
      name: this.name,
      version: this.#version.version,
      hash: this.#version.hash,
      file: this.#version.file,
      status: this.#status,
      disabledReason: this.#disabledReason,
      relay: summary.relay,
      sensors: summary.sensors,
      quantities: summary.quantities,
      limits: summary.limits,
      worker: this.#worker,
      position: this.#position,
      committedPosition: this.#committed.position,
      uncommitted: this.#pending.position > this.#committed.position,
      lagObservations: lag,
      lagMs: first ? Math.max(0, this.#env.now() - first.received_at) : 0,
      events: this.#counts.events,
      deliveries: this.#counts.deliveries,
      derived: this.#counts.derived,
      alerts: this.#counts.alerts,
      keptLocal: this.#counts.keptLocal,
      traces: this.#trace.total,
      failures: { ...this.#failures },
      failuresTotal,
      consecutiveFailures: this.#consecutive,
      lastError: this.#lastError,
      computeMax: this.#counts.computeMax,
      computePerEvent: this.#counts.events === 0 ? 0 : Math.round(this.#counts.computeTotal / this.#counts.events),
      stateBytes: this.#pending.state === null ? 0 : Buffer.byteLength(this.#pending.state),
      nextTimerAt: this.#nextTimerAt,
    };
  }

  #pump(): void {
    if (this.#status !== "running" || this.#inFlight || this.#draining) return;
    if (this.#env.commits.full) return this.#env.commits.whenRoom(() => this.#pump());
    this.#wakeAgain = false;
    this.#inFlight = this.#step()
      .catch((error: unknown) => this.#env.log.error(`rule "${this.name}": ${(error as Error).message}`, { error }))
      .then((more) => {
        this.#inFlight = undefined;
        if (more || this.#wakeAgain) setImmediate(() => this.#pump());
      });
  }

  /** One look at the store and, if there is anything to do, one delivery. True when there may be more to do at once. */
  async #step(): Promise<boolean> {
    if (this.#loadedIn === undefined || !this.#loadedIn.alive || this.#loadedIn !== this.#env.pool.running(this.#worker)) {
      const loaded = await this.#load();
      // A worker lost under the load (not this rule's doing): try again with the next one.
      if (loaded !== "loaded") return loaded === "retry";
    }
    const rows = this.#env.inputs.read(this.#position, READ_ROWS);
    const selector = this.#version.selector;
    const cautious = this.#cautiousThrough !== null && this.#position < this.#cautiousThrough;
    const maxEvents = cautious ? 1 : MAX_DELIVERY_EVENTS;
    const events: WireEvent[] = [];
    let through = this.#position;
    let scanned = 0;
    for (const row of rows) {
      if (events.length >= maxEvents) break;
      scanned++;
      through = row.observation.id;
      if (!selector.matchesRow(row.observation.sensorId, row.readings)) continue;
      events.push({ kind: "observation", o: row.observation });
    }
    const caughtUp = scanned === rows.length && rows.length < READ_ROWS;
    const now = this.#env.now();
    if (caughtUp && this.#nextTimerAt !== null && this.#nextTimerAt <= now && !cautious) events.push({ kind: "tick", now });
    if (events.length === 0) {
      // Nothing this rule selects: only the read position moves (committed with its next delivery).
      this.#position = through;
      if (caughtUp) this.#scheduleTick();
      return !caughtUp;
    }
    await this.#deliver(events, through);
    return true;
  }

  async #load(): Promise<"loaded" | "fault" | "retry"> {
    const version = this.#version;
    try {
      const worker = await this.#env.pool.worker(this.#worker);
      const { reply } = await worker.request<LoadReply>(
        { op: "load", slot: version.slot, code: version.bundle, file: version.bundleFile, state: this.#pending.state, ...this.#env.limits },
        LOAD_TIMEOUT_MS,
      );
      if (!reply.ok) {
        this.#fault(reply.error, {}, []);
        return "fault";
      }
      this.#loadedIn = worker;
      return "loaded";
    } catch (e) {
      if (e instanceof WorkerDiedError && (!e.inFlight || e.death === "closed")) return "retry";
      const fault: Fault = e instanceof WorkerDiedError
        ? { kind: deathKind(e.death), message: deathMessage(e, version.summary.limits), handler: "module" }
        : { kind: "crash", message: (e as Error).message };
      this.#fault(fault, {}, []);
      return "fault";
    }
  }

  async #deliver(events: WireEvent[], through: number): Promise<void> {
    const { summary } = this.#version;
    let reply: DeliverReply;
    let grewBy: number;
    try {
      const worker = await this.#env.pool.worker(this.#worker);
      if (worker !== this.#loadedIn) {
        // The worker was replaced since the load: load into the new one first.
        this.#loadedIn = undefined;
        this.#wakeAgain = true;
        return;
      }
      const watchdog = WATCHDOG_BASE_MS + WATCHDOG_PER_EVENT_MS * events.length;
      const answer = await worker.request<DeliverReply>({ op: "deliver", slot: this.#version.slot, events }, watchdog);
      reply = answer.reply;
      grewBy = answer.meter.allocate - answer.allocateBefore;
      if (answer.meter.allocate > this.#env.workerRecycleBytes) this.#env.pool.recycle(this.#worker);
    } catch (e) {
      if (!(e instanceof WorkerDiedError)) throw e;
      // Died under another rule's request, while queued, or recycled by the gateway: not this rule's fault.
      if (!e.inFlight || e.death === "closed") {
        this.#loadedIn = undefined;
        this.#wakeAgain = true;
        return;
      }
      const handler = events.some((event) => event.kind === "observation") ? "onObservation" : "onTimer";
      const fault: Fault = { kind: deathKind(e.death), message: deathMessage(e, summary.limits), handler };
      return this.#fault(fault, this.#contextOf(events), events);
    }
    this.#counts.deliveries++;
    if (!reply.ok) {
      const observation = reply.observationId === null ? undefined : events.find((e) => e.kind === "observation" && e.o.id === reply.observationId);
      const context: FaultContext = observation?.kind === "observation"
        ? { observation: { id: observation.o.id, sensorId: observation.o.sensorId, seq: observation.o.seq } }
        : reply.timer !== null ? { timer: reply.timer } : this.#contextOf(events);
      return this.#fault(reply.error, context, events, reply.observationId ?? undefined);
    }
    if (grewBy > summary.limits.memoryBytes) {
      const message = `the engine's heap grew by ${(grewBy / 2 ** 20).toFixed(1)} MiB in one delivery, over this rule's memoryBytes of ${(summary.limits.memoryBytes / 2 ** 20).toFixed(1)} MiB`;
      this.#env.pool.recycle(this.#worker);
      return this.#fault({ kind: "memory", message, handler: "onObservation" }, this.#contextOf(events), events);
    }
    const refusal = this.#refuseOutputs(reply.results);
    if (refusal) return this.#fault({ kind: "output", message: refusal, handler: "onObservation" }, this.#contextOf(events), events);
    this.#accept(reply, through);
  }

  #accept(reply: Extract<DeliverReply, { ok: true }>, through: number): void {
    const state = reply.state;
    this.#env.commits.add({
      rule: this.name,
      version: this.#version.version,
      results: reply.results,
      state,
      position: through,
      events: reply.events,
      committed: () => {
        if (through >= this.#committed.position) this.#committed = { position: through, state };
      },
    });
    this.#pending = { position: through, state };
    this.#position = through;
    this.#nextTimerAt = reply.nextTimerAt;
    // Failures count as "in a row" until the rule is past the event that failed (the replay before it does not reset them).
    if (this.#cautiousThrough === null || through >= this.#cautiousThrough) {
      this.#consecutive = 0;
      this.#cautiousThrough = null;
    }
    const counts = this.#counts;
    counts.events += reply.events;
    counts.computeTotal += reply.computeTotal;
    counts.computeMax = reply.computeMax;
    const now = this.#env.now();
    for (const result of reply.results) {
      counts.derived += result.derived.length;
      counts.alerts += result.alerts.length;
      if (result.keepLocal) counts.keptLocal++;
      for (const line of result.traces) {
        this.#trace.line(line, now, { rule: this.name, version: this.#version.version, ...(result.observationId !== null ? { observationId: result.observationId } : { timer: result.timer }) });
      }
    }
    this.#scheduleTick();
  }

  /** What the engine cannot see: that a derived observation's sensor is this rule's to write, and its values fit a record. */
  #refuseOutputs(results: readonly EventResult[]): string | undefined {
    for (const result of results) {
      for (const derived of result.derived) {
        const refusal = this.#env.derived.refusal(this.name, derived.sensorId);
        if (refusal) return refusal;
        for (const reading of derived.readings) {
          if (!(reading.quantity in QUANTITIES)) return `derived quantity "${reading.quantity}" is not one the gateway stores`;
          const { value } = roundReading(reading);
          const exponent = QUANTITIES[reading.quantity as Quantity].exponent;
          if (!Number.isSafeInteger(Math.round(exponent < 0 ? value * 10 ** -exponent : value / 10 ** exponent))) {
            return `derived ${reading.quantity} ${reading.value} is out of range`;
          }
        }
        if (!Number.isFinite(derived.time) || derived.time < 0) return `derived time ${derived.time} is not a wall time`;
      }
    }
    return undefined;
  }

  #contextOf(events: readonly WireEvent[]): FaultContext {
    const observations = events.filter((e) => e.kind === "observation");
    if (observations.length === 1 && observations[0].kind === "observation") {
      const o = observations[0].o;
      return { observation: { id: o.id, sensorId: o.sensorId, seq: o.seq } };
    }
    return {};
  }

  #fault(fault: Fault, context: FaultContext, events: readonly WireEvent[], failedAt?: number): void {
    const version = this.#version;
    this.#consecutive++;
    this.#failures[fault.kind] = (this.#failures[fault.kind] ?? 0) + 1;
    const line = faultLine(fault, version, () => version.lines());
    const observations = events.filter((e) => e.kind === "observation").map((e) => (e.kind === "observation" ? e.o.id : 0));
    const among = context.observation === undefined && observations.length > 1 ? ` (during observations ${observations[0]}–${observations[observations.length - 1]})` : "";
    const message = describeFault(fault, line, context) + among;
    this.#lastError = { at: this.#env.now(), message };
    this.#loadedIn = undefined;
    this.#unload(version.slot);
    // The events before the one that failed are replayed one at a time, so they commit and the failing one is found.
    this.#cautiousThrough = failedAt ?? (observations.length > 0 ? observations[observations.length - 1] : this.#cautiousThrough);
    const decision = afterFault(this.#consecutive, this.#env.retryDelaysMs);
    const fields = { rule: this.name, version: version.version, kind: fault.kind, line, observationId: context.observation?.id, failure: this.#consecutive };
    if (decision.disable) {
      this.#env.log.error(`rule "${this.name}" v${version.version} failed: ${message}; disabled after ${MAX_CONSECUTIVE_FAILURES} failures in a row`, fields);
      this.disable(`disabled after ${MAX_CONSECUTIVE_FAILURES} failures in a row; the last: ${message}`);
      return;
    }
    this.#env.log.error(`rule "${this.name}" v${version.version} failed: ${message}; stopped, retrying in ${decision.retryInMs / 1000} s (failure ${this.#consecutive} of ${MAX_CONSECUTIVE_FAILURES})`, fields);
    this.#status = "stopped";
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (this.#status !== "stopped") return;
      this.#status = "running";
      this.#pump();
    }, decision.retryInMs);
  }

  #unload(slot: string): void {
    const worker = this.#worker >= 0 ? this.#env.pool.running(this.#worker) : undefined;
    worker?.request<SimpleReply>({ op: "unload", slot }, LOAD_TIMEOUT_MS).catch(() => {});
  }

  /** Wakes the rule when its next timer falls due (only while it is caught up: otherwise observations move its clock). */
  #scheduleTick(): void {
    clearTimeout(this.#tickTimer);
    if (this.#nextTimerAt === null || this.#status !== "running") return;
    const wait = Math.max(0, this.#nextTimerAt - this.#env.now());
    this.#tickTimer = setTimeout(() => this.wake(), Math.min(wait, 2 ** 31 - 1));
  }
}
