/*
 * Installing a version of a rule, with draining:
 *
 *  1. type-check and bundle (rule-build.ts, a child process);
 *  2. load it and run its self-test in a probe worker of its own, so a new
 *     version that loops or blows up at load costs nothing that runs;
 *  3. record it (pending), load it into the rule's worker beside the
 *     running version;
 *  4. let the running version finish the delivery it holds, commit it, and
 *     in one transaction make the new version active at the next offset
 *     with the old one's state; hand the state to the new slot, unload the
 *     old one.
 * Anything failing before step 4 leaves the running version as it was. A
 * stop or a SIGKILL before step 4 leaves the new version pending (marked
 * failed at the next start), after it active: either way the rule resumes
 * at its committed offset, with nothing lost or done twice.
 */
import { checkBuildRequest, contentHash, RuleBuilder, RuleRequestError, type BuildDiagnostic } from "./rule-build.js";
import { describeFault, faultLine } from "./fault-report.js";
import { RuleWorker, WorkerDiedError } from "./rule-worker.js";
import { ruleVersion, type RuleVersion } from "./rule-version.js";
import { RuleRunner, type RunnerEnv } from "./rule-runner.js";
import { SourceLines, type SourceMap } from "./source-lines.js";
import { WORKER_START_TIMEOUT_MS } from "./worker-pool.js";
import type { Fault, LoadReply, RuleSummary, SimpleReply } from "./xs/protocol.js";

const PROBE_LOAD_TIMEOUT_MS = 10_000;
/** A self-test runs up to 100 events' budget (xs/self-test.ts): a second or so of XS, far less than this even on a loaded Pi. */
const PROBE_TEST_TIMEOUT_MS = 30_000;
const SLOT_TIMEOUT_MS = 10_000;

/** A deploy, rollback, enable or disable that cannot be done; `status` is the HTTP status the API answers with. */
export class RuleDeployError extends Error {
  readonly status: number;
  readonly diagnostics: BuildDiagnostic[] | undefined;
  constructor(status: number, message: string, diagnostics?: BuildDiagnostic[]) {
    super(message);
    this.name = "RuleDeployError";
    this.status = status;
    this.diagnostics = diagnostics;
  }
}

export interface DeployOutcome {
  outcome: "deployed" | "unchanged";
  rule: string;
  version: number;
  hash: string;
  /** The version that ran before, if any. */
  previousVersion: number | null;
  /** The observation id after which the new version took over. */
  handedOverAt: number;
  /** From the request to the new version running. */
  tookMs: number;
  /** Of that, how long the rule took no new events: the old version finishing what it held, the commit, the switch. */
  handOverMs: number;
}

interface Candidate {
  source: string;
  file: string;
  hash: string;
  bundle: string;
  sourceMap: string;
  detail: string | null;
}

export interface InstallerOptions {
  env: RunnerEnv;
  runners: Map<string, RuleRunner>;
  workerMemoryBytes: number;
  maxVersionsKept: number;
}

export class RuleInstaller {
  readonly #options: InstallerOptions;
  readonly #env: RunnerEnv;
  readonly #builder = new RuleBuilder();
  #busy: Promise<unknown> | undefined;

  constructor(options: InstallerOptions) {
    this.#options = options;
    this.#env = options.env;
  }

  deploy(source: unknown, file: unknown): Promise<DeployOutcome> {
    return this.#exclusive(async () => {
      const started = this.#env.now();
      let request;
      try {
        request = checkBuildRequest(source, file);
      } catch (e) {
        if (e instanceof RuleRequestError) throw new RuleDeployError(400, e.message);
        throw e;
      }
      const hash = contentHash(request.source);
      // The source a rule runs now (its hash says so): nothing to build.
      for (const runner of this.#options.runners.values()) {
        const v = runner.version;
        if (v.hash === hash && runner.status !== "disabled") {
          return { outcome: "unchanged" as const, rule: v.name, version: v.version, hash, previousVersion: v.version, handedOverAt: runner.handOver().position, tookMs: this.#env.now() - started, handOverMs: 0 };
        }
      }
      // The probe's engine starts while the compiler runs: a deploy waits for the slower of the two, not both.
      const probe = this.#startProbe();
      const built = await this.#builder.build(request).catch(async (e: unknown) => {
        await probe.close();
        throw e;
      });
      if (!built.ok) {
        await probe.close();
        const first = built.diagnostics[0];
        throw new RuleDeployError(400, `the rule does not type-check: ${first ? `${first.file}:${first.line}:${first.column} ${first.code} ${first.message}` : "?"}`, built.diagnostics);
      }
      return this.#install({ ...request, hash, bundle: built.bundle, sourceMap: built.sourceMap, detail: null }, started, false, undefined, probe);
    });
  }

  rollback(name: string, to?: number): Promise<DeployOutcome> {
    return this.#exclusive(async () => {
      const started = this.#env.now();
      const runner = this.#options.runners.get(name);
      if (!runner) throw new RuleDeployError(404, `no rule "${name}"`);
      const active = runner.version.version;
      const versions = this.#env.store.rules.versions(name);
      const target = to === undefined
        ? versions.filter((v) => v.version < active && v.status === "superseded").pop()
        : versions.find((v) => v.version === to);
      if (!target) throw new RuleDeployError(404, to === undefined ? `rule "${name}" has no earlier version to roll back to` : `rule "${name}" has no version ${to}`);
      if (target.status === "failed") throw new RuleDeployError(409, `version ${target.version} of "${name}" failed (${target.detail ?? "?"}); it cannot be rolled back to`);
      if (target.version === active) throw new RuleDeployError(409, `version ${target.version} of "${name}" is already the active one`);
      const candidate = { source: target.source, file: target.file, hash: target.hash, bundle: target.bundle, sourceMap: target.sourceMap, detail: `rollback to version ${target.version}` };
      return this.#install(candidate, started, true, name);
    });
  }

  /** Waits for a deploy in progress, then ends the build process. */
  async close(): Promise<void> {
    await this.#busy?.catch(() => {});
    this.#builder.close();
  }

  async #exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#busy) throw new RuleDeployError(409, "another deploy is in progress; try again when it is done");
    const running = work();
    this.#busy = running;
    try {
      return await running;
    } catch (e) {
      // One line per refused deploy: deploys come one at a time, from an operator, so this needs no throttle.
      if (e instanceof RuleDeployError) this.#env.log.warn(`rule deploy refused (${e.status}): ${e.message}`, { status: e.status });
      throw e;
    } finally {
      this.#busy = undefined;
    }
  }

  async #install(candidate: Candidate, started: number, rollback: boolean, expectedName?: string, probe = this.#startProbe()): Promise<DeployOutcome> {
    const { store, log } = this.#env;
    const summary = await this.#probe(candidate, probe);
    const name = summary.name;
    if (expectedName !== undefined && name !== expectedName) throw new RuleDeployError(422, `version names its rule "${name}", not "${expectedName}"`);
    const runner = this.#options.runners.get(name);
    const previous = runner?.version;
    if (previous && !rollback && previous.hash === candidate.hash && runner!.status !== "disabled") {
      return { outcome: "unchanged", rule: name, version: previous.version, hash: previous.hash, previousVersion: previous.version, handedOverAt: runner!.handOver().position, tookMs: this.#env.now() - started, handOverMs: 0 };
    }
    const deployedAt = this.#env.now();
    const row = { rule: name, hash: candidate.hash, file: candidate.file, source: candidate.source, bundle: candidate.bundle, sourceMap: candidate.sourceMap, summary: JSON.stringify(summary), deployedAt, detail: candidate.detail };
    const number = store.rules.addVersion(row);
    const version = ruleVersion({ ...row, version: number }, summary);
    let handedOverAt: number;
    let handOverMs = 0;
    try {
      if (runner) ({ position: handedOverAt, ms: handOverMs } = await this.#handOver(runner, version));
      else handedOverAt = this.#start(version);
    } catch (e) {
      store.rules.setStatus(name, number, "failed", (e as Error).message);
      throw e;
    }
    store.rules.prune(name, this.#options.maxVersionsKept);
    const tookMs = this.#env.now() - started;
    log.info(`rule "${name}" v${number} live${previous ? ` (was v${previous.version})` : ""}, from observation ${handedOverAt + 1}, ${tookMs} ms after the deploy began`, {
      rule: name, version: number, hash: candidate.hash, previousVersion: previous?.version ?? null, detail: candidate.detail,
    });
    return { outcome: "deployed", rule: name, version: number, hash: candidate.hash, previousVersion: previous?.version ?? null, handedOverAt, tookMs, handOverMs };
  }

  /** A throwaway worker for one candidate, its rule host loading. */
  #startProbe(): RuleWorker & { started: Promise<void> } {
    const worker = new RuleWorker({ name: "xsedge-rules-probe", memoryCapBytes: this.#options.workerMemoryBytes });
    const started = worker.ready(WORKER_START_TIMEOUT_MS);
    started.catch(() => {});
    return Object.assign(worker, { started });
  }

  /** Loads and self-tests the candidate in its throwaway worker; its summary, or a 422 saying why not. */
  async #probe(candidate: Candidate, worker: RuleWorker & { started: Promise<void> }): Promise<RuleSummary> {
    const bundleFile = candidate.file.replace(/\.ts$/, ".js");
    const refuse = (fault: Fault, stage: string): never => {
      let lines: SourceLines | undefined;
      const line = faultLine(fault, { ...candidate, bundleFile }, () => (lines ??= new SourceLines(JSON.parse(candidate.sourceMap) as SourceMap)));
      throw new RuleDeployError(422, `the rule ${stage}: ${describeFault(fault, line, {})}`);
    };
    try {
      await worker.started;
      const load = await worker.request<LoadReply>({ op: "load", slot: "probe", code: candidate.bundle, file: bundleFile, state: null, ...this.#env.limits }, PROBE_LOAD_TIMEOUT_MS);
      if (!load.reply.ok) return refuse(load.reply.error, "failed to load");
      const test = await worker.request<SimpleReply>({ op: "selfTest", slot: "probe" }, PROBE_TEST_TIMEOUT_MS);
      if (!test.reply.ok) return refuse(test.reply.error, test.reply.error.kind === "self-test" ? "failed its self-test" : "failed in its self-test");
      return load.reply.rule;
    } catch (e) {
      if (e instanceof WorkerDiedError) {
        const kind = e.death === "compute" ? "compute" : e.death === "memory" ? "memory" : "crash";
        return refuse({ kind, message: `the engine stopped (${e.message})`, handler: "selfTest" }, "failed to load or self-test");
      }
      throw e;
    } finally {
      await worker.close();
    }
  }

  /** A rule deployed for the first time: it starts after what is stored now, or from the oldest stored observation. */
  #start(version: RuleVersion): number {
    const { store, now } = this.#env;
    const position = version.summary.start === "stored" ? 0 : store.queries.latestId();
    store.transaction(() => store.rules.activate(version.name, version.version, position, null, now()));
    const runner = new RuleRunner(this.#env, version.name, version, { position, state: null, enabled: true, disabledReason: null });
    this.#options.runners.set(version.name, runner);
    runner.wake();
    return position;
  }

  async #handOver(runner: RuleRunner, version: RuleVersion): Promise<{ position: number; ms: number }> {
    const { store, pool, commits, now } = this.#env;
    const old = runner.version;
    // Beside the running version, in its worker (a disabled rule has none: it loads when it runs).
    let loaded = false;
    let loadedInto: RuleWorker | undefined;
    if (runner.workerIndex >= 0) {
      const worker = await pool.worker(runner.workerIndex);
      loadedInto = worker;
      const { reply } = await worker.request<LoadReply>(
        { op: "load", slot: version.slot, code: version.bundle, file: version.bundleFile, state: null, ...this.#env.limits },
        SLOT_TIMEOUT_MS,
        true,
      );
      if (!reply.ok) throw new RuleDeployError(422, `the rule failed to load beside v${old.version}: ${reply.error.message}`);
      loaded = true;
    }
    const draining = performance.now();
    await runner.drain();
    try {
      if (!commits.flush()) throw new RuleDeployError(503, "the store could not commit the running version's work; nothing changed");
      const { position, state } = runner.handOver();
      store.transaction(() => store.rules.activate(version.name, version.version, position, state, now()));
      // A worker that died meanwhile (the old version faulted, say) took the new slot with it.
      const worker = pool.running(runner.workerIndex);
      if (worker !== loadedInto) loaded = false;
      if (loaded && state !== null) {
        const adopted = worker ? await worker.request<SimpleReply>({ op: "adopt", slot: version.slot, state }, SLOT_TIMEOUT_MS, true).then((r) => r.reply.ok, () => false) : false;
        loaded = adopted;
      }
      runner.unloadSlot(old.slot);
      runner.useVersion(version, loaded ? loadedInto : undefined);
      return { position, ms: Math.round((performance.now() - draining) * 10) / 10 };
    } catch (e) {
      if (loaded) runner.unloadSlot(version.slot);
      throw e;
    } finally {
      runner.resume();
    }
  }
}
