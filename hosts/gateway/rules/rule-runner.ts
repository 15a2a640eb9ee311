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
import type { RunnerEnv } from "./runner-env.js";
import { MAX_CONSECUTIVE_FAILURES } from "./fault-policy.js";
import type { FaultContext } from "./fault-report.js";
import { RuleFaults } from "./rule-faults.js";
import { planDelivery, READ_ROWS } from "./delivery-plan.js";
import { deliverEvents, loadSlot, LOAD_TIMEOUT_MS } from "./rule-delivery.js";
import { DeliveryPace } from "./delivery-pace.js";

export { MAX_DELIVERY_EVENTS, READ_ROWS } from "./delivery-plan.js";
import { lagOf, RuleCounts, versionFigures, type RuleStats, type RunnerStatus } from "./rule-stats.js";
import type { RuleVersion } from "./rule-version.js";
import { RuleTrace } from "./rule-trace.js";
import type { RuleWorker } from "./rule-worker.js";
import type { DeliverReply, Fault, SimpleReply, WireEvent } from "./xs/protocol.js";

export type { RuleStats, RunnerStatus } from "./rule-stats.js";
export type { RunnerEnv } from "./runner-env.js";

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
  readonly #faults = new RuleFaults();
  readonly #counts = new RuleCounts();
  readonly #pace = new DeliveryPace();

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

  /** The rule's state (JSON) after its last good delivery: what `xsedge rules show` shows. */
  get state(): string | null {
    return this.#pending.state;
  }

  get workerIndex(): number {
    return this.#worker;
  }

  /** New observations were stored (or a timer fell due): deliver what there is. */
  wake(): void {
    if (this.#inFlight) this.#wakeAgain = true;
    else this.#pace.schedule(() => this.#pump());
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
    this.#pace.cancel();
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
    this.#faults.reset();
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
    this.#faults.reset();
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
    this.#pace.cancel();
    this.#draining = true;
  }

  stats(): RuleStats {
    return {
      name: this.name,
      ...versionFigures(this.#version),
      status: this.#status,
      disabledReason: this.#disabledReason,
      worker: this.#worker,
      position: this.#position,
      committedPosition: this.#committed.position,
      uncommitted: this.#pending.position > this.#committed.position,
      ...lagOf(this.#env.store, this.#position, this.#env.now()),
      ...this.#counts.figures(),
      traces: this.#trace.total,
      ...this.#faults.figures(),
      stateBytes: this.#pending.state === null ? 0 : Buffer.byteLength(this.#pending.state),
      nextTimerAt: this.#nextTimerAt,
    };
  }

  #pump(): void {
    if (this.#status !== "running" || this.#inFlight || this.#draining) return;
    if (this.#env.commits.full) return this.#env.commits.whenRoom(() => this.#pump());
    this.#wakeAgain = false;
    this.#pace.started();
    this.#inFlight = this.#step()
      .catch((error: unknown) => this.#env.log.error(`rule "${this.name}": ${(error as Error).message}`, { error }))
      .then((more) => {
        this.#inFlight = undefined;
        // More at once (a backlog, a reload): straight on; only woken meanwhile: paced.
        if (more) setImmediate(() => this.#pump());
        else if (this.#wakeAgain) this.#pace.schedule(() => this.#pump());
      });
  }

  /** One look at the store and, if there is anything to do, one delivery. True when there may be more to do at once. */
  async #step(): Promise<boolean> {
    await this.#env.turns.turn();
    if (this.#loadedIn === undefined || !this.#loadedIn.alive || this.#loadedIn !== this.#env.pool.running(this.#worker)) {
      const loaded = await this.#load();
      // A worker lost under the load (not this rule's doing): try again with the next one.
      if (loaded !== "loaded") return loaded === "retry";
    }
    const rows = this.#env.inputs.read(this.#position, READ_ROWS);
    const options = { cautious: this.#faults.cautiousAt(this.#position), nextTimerAt: this.#nextTimerAt, now: this.#env.now() };
    const { events, through, caughtUp } = planDelivery(rows, this.#position, this.#version.selector, options);
    if (events.length === 0) {
      // Nothing this rule selects: only the read position moves (committed with its next delivery).
      this.#position = through;
      if (caughtUp) this.#scheduleTick();
      return !caughtUp;
    }
    await this.#deliver(events, through);
    // Caught up: what arrives meanwhile waits for the pace (delivery-pace.ts); behind: the next delivery at once.
    return !caughtUp;
  }

  async #load(): Promise<"loaded" | "fault" | "retry"> {
    const outcome = await loadSlot(this.#env, this.#version, this.#worker, this.#pending.state);
    if (outcome.kind === "loaded") this.#loadedIn = outcome.worker;
    else if (outcome.kind === "fault") this.#fault(outcome.fault, {}, []);
    return outcome.kind;
  }

  async #deliver(events: WireEvent[], through: number): Promise<void> {
    const outcome = await deliverEvents(this.#env, { name: this.name, version: this.#version, worker: this.#worker, loadedIn: this.#loadedIn }, events);
    if (outcome.kind === "reload") {
      this.#loadedIn = undefined;
      this.#wakeAgain = true;
      return;
    }
    if (outcome.kind === "accepted" || outcome.answered) this.#counts.sent();
    if (outcome.kind === "fault") return this.#fault(outcome.fault, outcome.context, events, outcome.failedAt);
    this.#accept(outcome.reply, through);
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
    this.#faults.succeeded(through);
    this.#counts.delivered(reply);
    const now = this.#env.now();
    for (const result of reply.results) {
      for (const line of result.traces) {
        this.#trace.line(line, now, { rule: this.name, version: this.#version.version, ...(result.observationId !== null ? { observationId: result.observationId } : { timer: result.timer }) });
      }
    }
    this.#scheduleTick();
  }

  #fault(fault: Fault, context: FaultContext, events: readonly WireEvent[], failedAt?: number): void {
    const version = this.#version;
    const { message, line, decision } = this.#faults.record(fault, version, context, events, failedAt, this.#env.now(), this.#env.retryDelaysMs);
    this.#loadedIn = undefined;
    this.#unload(version.slot);
    const failure = this.#faults.consecutive;
    const fields = { rule: this.name, version: version.version, kind: fault.kind, line, observationId: context.observation?.id, failure };
    if (decision.disable) {
      this.#env.log.error(`rule "${this.name}" v${version.version} failed: ${message}; disabled after ${MAX_CONSECUTIVE_FAILURES} failures in a row`, fields);
      this.disable(`disabled after ${MAX_CONSECUTIVE_FAILURES} failures in a row; the last: ${message}`);
      return;
    }
    this.#env.log.error(`rule "${this.name}" v${version.version} failed: ${message}; stopped, retrying in ${decision.retryInMs / 1000} s (failure ${failure} of ${MAX_CONSECUTIVE_FAILURES})`, fields);
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
