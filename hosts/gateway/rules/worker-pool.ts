/*
 * The xsnap-workers that run rules. Rules share them, each rule in its own
 * Compartment: one idle worker is about 45 MB resident, so a worker per
 * rule would put ten rules at 450 MB, where the gateway may add 100 MB.
 * `rules.workers` (default 1) spreads rules over more workers, each costing
 * its 45 MB, for operators who would rather a rule's fault paused fewer
 * neighbours (see below).
 *
 * A worker starts when its first rule is loaded and stops when its last one
 * goes, so a gateway without rules runs none. A worker that dies (a rule ran
 * out of compute or memory; rule-worker.ts) is replaced on next use; the
 * rules it held lose nothing (their state is in SQLite, or queued to be),
 * but wait for the new worker and for their reload: the restart is the one
 * cost a rule's fault puts on its neighbours.
 */
import type { Logger } from "../../log/logger.js";
import { RuleWorker, type WorkerDiedError } from "./rule-worker.js";

/** How long a new worker may take to evaluate the rule host. */
export const WORKER_START_TIMEOUT_MS = 10_000;
/** Most workers an operator may ask for (each is about 45 MB). */
export const MAX_RULE_WORKERS = 8;

export interface WorkerPoolOptions {
  workers: number;
  /** RLIMIT_DATA of each worker (rules.workerMemoryBytes). */
  memoryCapBytes: number;
  logger: Logger;
  /** A worker died (not closed by the pool): the rules on it must be loaded again. */
  onDied(index: number, error: WorkerDiedError): void;
}

interface Slot {
  worker: RuleWorker | undefined;
  starting: Promise<RuleWorker> | undefined;
  rules: Set<string>;
  started: number;
}

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[];
  #restarts = 0;
  #deaths = 0;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1 || options.workers > MAX_RULE_WORKERS) {
      throw new RangeError(`rules.workers must be an integer from 1 to ${MAX_RULE_WORKERS}, got ${options.workers}`);
    }
    this.#options = options;
    this.#slots = Array.from({ length: options.workers }, () => ({ worker: undefined, starting: undefined, rules: new Set<string>(), started: 0 }));
  }

  /** The least loaded worker for a new rule. */
  assign(rule: string): number {
    let best = 0;
    for (let i = 1; i < this.#slots.length; i++) if (this.#slots[i].rules.size < this.#slots[best].rules.size) best = i;
    this.#slots[best].rules.add(rule);
    return best;
  }

  /** A rule left its worker; the last one to leave stops it. */
  release(index: number, rule: string): void {
    const slot = this.#slots[index];
    slot.rules.delete(rule);
    if (slot.rules.size === 0) void this.#stop(slot);
  }

  /** The worker at `index`, started (or restarted) if it is not running. */
  async worker(index: number): Promise<RuleWorker> {
    if (this.#closed) throw new Error("the rule workers are closed");
    const slot = this.#slots[index];
    if (slot.worker?.alive) return slot.worker;
    slot.starting ??= this.#start(index, slot).finally(() => (slot.starting = undefined));
    return slot.starting;
  }

  /** The running worker at `index`, if there is one. */
  running(index: number): RuleWorker | undefined {
    const worker = this.#slots[index].worker;
    return worker?.alive ? worker : undefined;
  }

  /** Stops a worker whose machine grew too large: its rules are loaded again into a fresh one. */
  recycle(index: number): void {
    const slot = this.#slots[index];
    const worker = slot.worker;
    // The next worker() starts a fresh one at once, not the one on its way out.
    slot.worker = undefined;
    if (worker?.alive) {
      this.#options.logger.info(`rule worker ${index} recycled: its engine holds ${Math.round(worker.meter.allocate / 2 ** 20)} MiB`);
      void worker.close().then(async () => this.#options.onDied(index, await worker.exited));
    }
  }

  stats(): { workers: number; workerRestarts: number; workerDeaths: number; workerPids: number[] } {
    const alive = this.#slots.map((s) => s.worker).filter((w): w is RuleWorker => w?.alive === true);
    return { workers: alive.length, workerRestarts: this.#restarts, workerDeaths: this.#deaths, workerPids: alive.map((w) => w.pid ?? 0) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((slot) => this.#stop(slot)));
  }

  async #start(index: number, slot: Slot): Promise<RuleWorker> {
    if (slot.started > 0) this.#restarts++;
    slot.started++;
    const worker = new RuleWorker({
      name: `xsedge-rules-${index}`,
      memoryCapBytes: this.#options.memoryCapBytes,
      onPrint: (line) => this.#options.logger.warn(`rule worker ${index}: ${line}`),
    });
    slot.worker = worker;
    void worker.exited.then((death) => {
      if (death.death === "closed" || this.#closed) return;
      this.#deaths++;
      this.#options.logger.warn(`rule worker ${index} (pid ${worker.pid}) ended: ${death.message}`);
      this.#options.onDied(index, death);
    });
    await worker.ready(WORKER_START_TIMEOUT_MS);
    return worker;
  }

  async #stop(slot: Slot): Promise<void> {
    const worker = slot.worker;
    slot.worker = undefined;
    await worker?.close();
  }
}
