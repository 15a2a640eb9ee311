/*
 * The gateway's rules: the entry of this folder. Opens the rules recorded in
 * the store and keeps them running, takes deploys, disables, enables and
 * rollbacks (rule-deploy.ts does the installing), gives the relay its gate
 * and the API and /metrics their figures.
 *
 * What it promises: a rule's outputs commit with its offset (rule-commits.ts),
 * a rule's fault stops that rule only (rule-runner.ts, worker-pool.ts), and a
 * rule never holds back a device's acknowledgement (nothing on the ingest
 * path waits for a rule) or the relay beyond rules.verdictWaitMs
 * (relay-verdicts.ts).
 */
import type { Logger } from "../../log/logger.js";
import type { ObservationStore, VersionRow } from "../store/observation-store.js";
import type { SensorRegistry } from "../ingest/sensor-registry.js";
import { CommitQueue } from "./rule-commits.js";
import { RETRY_DELAYS_MS } from "./fault-policy.js";
import { DerivedSensors } from "./derived-sensors.js";
import { InputWindow } from "./input-window.js";
import { LoopTurns } from "./loop-turns.js";
import { DEFAULT_LIMITS, DEFAULT_WORKER_MEMORY_BYTES, DEFAULT_WORKER_RECYCLE_BYTES, MAX_LIMITS } from "./rule-limits.js";
import { RuleRunner, type RuleStats, type RunnerEnv } from "./rule-runner.js";
import { ruleVersion } from "./rule-version.js";
import { RelayVerdicts, DEFAULT_VERDICT_WAIT_MS } from "./relay-verdicts.js";
import { RuleInstaller, RuleDeployError, type DeployOutcome } from "./rule-deploy.js";
import { WorkerPool } from "./worker-pool.js";
import type { ResolvedLimits, RuleSummary } from "./xs/protocol.js";

export { RuleDeployError, type DeployOutcome } from "./rule-deploy.js";
export type { RuleStats } from "./rule-runner.js";

/** Versions kept per rule (and always the active one): enough to roll back a few deploys. */
export const MAX_VERSIONS_KEPT = 20;

export interface RulesOptions {
  /** xsnap-workers the rules share (rules.workers); default 1. */
  workers?: number;
  /** RLIMIT_DATA of each worker; DEFAULT_WORKER_MEMORY_BYTES by default. */
  workerMemoryBytes?: number;
  /** How long the relay waits for a deciding rule's verdict; DEFAULT_VERDICT_WAIT_MS by default. */
  verdictWaitMs?: number;
  /** Defaults and ceilings of the rules' limits; rule-limits.ts by default. */
  defaults?: Partial<ResolvedLimits>;
  maxima?: Partial<ResolvedLimits>;
  /** Waits before retrying a rule after a fault; fault-policy.ts RETRY_DELAYS_MS by default. */
  retryDelaysMs?: readonly number[];
}

export interface RuleEngineOptions extends RulesOptions {
  store: ObservationStore;
  registry?: SensorRegistry;
  logger: Logger;
  now?: () => number;
  /** After each commit of rules' work: what it stored (wake the relay, the SSE streams, the alert sinks; release backpressure). */
  onCommitted?: (summary: { derived: number; keptLocal: number; alerts: number }) => void;
}

/** A version as the API lists it: without its bundle. */
export interface VersionInfo {
  version: number;
  hash: string;
  file: string;
  deployedAt: number;
  status: VersionRow["status"];
  detail: string | null;
}

/** The rules' figures for /metrics and the gateway's stats: per-rule maps are one series per rule. */
export interface RulesStats {
  rules: number;
  running: number;
  disabled: number;
  workers: number;
  workerRestarts: number;
  workerDeaths: number;
  commits: number;
  commitFailures: number;
  queuedEvents: number;
  verdictTimeouts: number;
  lateVerdicts: number;
  heldForVerdicts: number;
  events: Record<string, number>;
  derived: Record<string, number>;
  alerts: Record<string, number>;
  keptLocal: Record<string, number>;
  failures: Record<string, number>;
  lagObservations: Record<string, number>;
  lagSeconds: Record<string, number>;
  enabled: Record<string, number>;
  version: Record<string, number>;
}

export class RuleEngine {
  /** The relay's gate (relay/relay-gate.ts). */
  readonly verdicts: RelayVerdicts;
  readonly #store: ObservationStore;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #pool: WorkerPool;
  readonly #commits: CommitQueue;
  readonly #env: RunnerEnv;
  readonly #installer: RuleInstaller;
  readonly #runners = new Map<string, RuleRunner>();
  #closed = false;

  constructor(options: RuleEngineOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    const limits = {
      defaults: { ...DEFAULT_LIMITS, ...options.defaults },
      maxima: { ...MAX_LIMITS, ...options.maxima },
    };
    const workerMemoryBytes = options.workerMemoryBytes ?? DEFAULT_WORKER_MEMORY_BYTES;
    const derived = new DerivedSensors(this.#store, options.registry);
    this.verdicts = new RelayVerdicts(() => [...this.#runners.values()], (sensorId) => derived.isDerived(sensorId), options.verdictWaitMs ?? DEFAULT_VERDICT_WAIT_MS);
    this.#pool = new WorkerPool({
      workers: options.workers ?? 1,
      memoryCapBytes: workerMemoryBytes,
      logger: this.#log,
      onDied: (index) => {
        for (const runner of this.#runners.values()) if (runner.workerIndex === index) runner.workerLost();
      },
    });
    const onCommitted = options.onCommitted ?? (() => {});
    const turns = new LoopTurns(this.#log);
    this.#commits = new CommitQueue(this.#store, { isLate: (id) => this.verdicts.isLate(id), onCommitted }, this.#log, this.#now, turns);
    this.#env = {
      store: this.#store,
      inputs: new InputWindow(this.#store),
      turns,
      pool: this.#pool,
      commits: this.#commits,
      derived,
      log: this.#log,
      now: this.#now,
      limits,
      workerRecycleBytes: Math.min(DEFAULT_WORKER_RECYCLE_BYTES, workerMemoryBytes),
      retryDelaysMs: options.retryDelaysMs ?? RETRY_DELAYS_MS,
    };
    this.#installer = new RuleInstaller({
      env: this.#env,
      runners: this.#runners,
      workerMemoryBytes,
      maxVersionsKept: MAX_VERSIONS_KEPT,
    });
  }

  /** Loads the rules the store holds and starts them. A version a deploy left pending (a crash mid-deploy) never took over: marked failed. */
  open(): void {
    const interrupted = this.#store.rules.failInterrupted("interrupted: the gateway stopped before this version took over");
    if (interrupted > 0) this.#log.warn(`rules: ${interrupted} deploy(s) were interrupted by a stop; the versions before them run`);
    for (const row of this.#store.rules.list()) {
      const versionRow = this.#store.rules.version(row.name, row.version);
      if (!versionRow) {
        this.#log.error(`rule "${row.name}": its active version ${row.version} is missing from the store; not started`);
        continue;
      }
      const version = ruleVersion(versionRow, JSON.parse(versionRow.summary) as RuleSummary);
      const runner = new RuleRunner(this.#env, row.name, version, row);
      this.#runners.set(row.name, runner);
      runner.wake();
    }
    if (this.#runners.size > 0) this.#log.info(`rules: ${this.#runners.size} loaded`, { rules: [...this.#runners.keys()] });
  }

  /** Observations were committed: rules with something new to do get it. */
  stored(): void {
    for (const runner of this.#runners.values()) runner.wake();
  }

  list(): RuleStats[] {
    return [...this.#runners.values()].map((runner) => runner.stats()).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** A rule's figures, its versions (newest first) and its active source; undefined when there is no such rule. */
  show(name: string): { rule: RuleStats; versions: VersionInfo[]; source: string; state: unknown } | undefined {
    const runner = this.#runners.get(name);
    if (!runner) return undefined;
    const versions = this.#store.rules.versions(name).reverse().map(({ version, hash, file, deployedAt, status, detail }) => ({ version, hash, file, deployedAt, status, detail }));
    const state = runner.state;
    return { rule: runner.stats(), versions, source: runner.version.source, state: state === null ? null : JSON.parse(state) };
  }

  /** Type-checks, bundles, tests and installs a rule's source (see rule-deploy.ts). */
  deploy(source: unknown, file: unknown): Promise<DeployOutcome> {
    this.#open();
    return this.#installer.deploy(source, file);
  }

  /** Runs an earlier version again (the one before the active one by default), as a new version. */
  rollback(name: string, to?: number): Promise<DeployOutcome> {
    this.#open();
    return this.#installer.rollback(name, to);
  }

  async disable(name: string): Promise<RuleStats> {
    const runner = this.#runner(name);
    if (runner.status !== "disabled") {
      await runner.drain();
      this.#commits.flush();
      runner.disable("disabled by an operator");
      runner.resume();
      this.#log.info(`rule "${name}" disabled by an operator`, { rule: name });
    }
    return runner.stats();
  }

  enable(name: string): RuleStats {
    const runner = this.#runner(name);
    if (runner.status === "disabled") {
      runner.enable();
      this.#log.info(`rule "${name}" enabled`, { rule: name });
    }
    return runner.stats();
  }

  stats(): RulesStats {
    const all = this.list();
    const per = (value: (rule: RuleStats) => number) => Object.fromEntries(all.map((rule) => [rule.name, value(rule)]));
    const pool = this.#pool.stats();
    const commits = this.#commits.stats;
    const verdicts = this.verdicts.stats();
    return {
      rules: all.length,
      running: all.filter((r) => r.status === "running").length,
      disabled: all.filter((r) => r.status === "disabled").length,
      workers: pool.workers,
      workerRestarts: pool.workerRestarts,
      workerDeaths: pool.workerDeaths,
      commits: commits.commits,
      commitFailures: commits.commitFailures,
      queuedEvents: commits.queuedEvents,
      verdictTimeouts: verdicts.verdictTimeouts,
      lateVerdicts: verdicts.lateVerdicts,
      heldForVerdicts: verdicts.held,
      events: per((r) => r.events),
      derived: per((r) => r.derived),
      alerts: per((r) => r.alerts),
      keptLocal: per((r) => r.keptLocal),
      failures: per((r) => r.failuresTotal),
      lagObservations: per((r) => r.lagObservations),
      lagSeconds: per((r) => r.lagMs / 1000),
      enabled: per((r) => (r.status === "disabled" ? 0 : 1)),
      version: per((r) => r.version),
    };
  }

  /** The pids of the rules' workers (their memory is the gateway's too). */
  workerPids(): number[] {
    return this.#pool.stats().workerPids;
  }

  /** Lets the deliveries in flight finish, commits what they did, stops the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#installer.close();
    const runners = [...this.#runners.values()];
    await Promise.all(runners.map((runner) => runner.drain()));
    for (const runner of runners) runner.close();
    this.#commits.flush();
    this.#commits.close();
    await this.#pool.close();
  }

  #open(): void {
    if (this.#closed) throw new RuleDeployError(503, "the gateway is stopping");
  }

  #runner(name: string): RuleRunner {
    const runner = this.#runners.get(name);
    if (!runner) throw new RuleDeployError(404, `no rule "${name}"`);
    return runner;
  }
}
