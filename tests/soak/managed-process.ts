/*
 * A process the soak runs: started (and ready), killed, started again;
 * each run keeps its own series of memory samples, taken from outside.
 */
import type { ChildProcess } from "node:child_process";
import type { MemorySample } from "./memory-trend.js";
import { residentBytes } from "./proc-memory.js";
import { HEAP_AFTER_GC_METRIC } from "../../hosts/gateway/api/metrics.js";

const LIVE_HEAP = new RegExp(`^${HEAP_AFTER_GC_METRIC} (\\d+)`, "m");
/** prom-client's default metrics: V8's heap as reserved from the system (live, garbage and free), and memory outside it that JS objects hold (Buffers). */
const V8_HEAP_COMMITTED = /^nodejs_heap_size_total_bytes (\d+)/m;
const EXTERNAL = /^nodejs_external_memory_bytes (\d+)/m;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process the soak starts, kills and restarts; each run (incarnation) has its own memory series. */
export class Managed {
  child: ChildProcess | undefined;
  runs: Array<{
    pid: number;
    startedAt: number;
    samples: MemorySample[];
    heap: MemorySample[];
    /** Where the resident memory is (metrics only): V8's committed heap, and external memory, at the heap's sample times. */
    committed: MemorySample[];
    external: MemorySample[];
    endedBy?: string;
  }> = [];
  /** The relay's backlog in the last metrics read (xsedge_relay_backlog); undefined before any. */
  backlog: number | undefined;
  /**
   * @param metricsUrl where the process serves Prometheus metrics: its live JS heap (in use just
   *   after the last major collection, HEAP_AFTER_GC_METRIC) is sampled too, which tells a leak in
   *   JavaScript from the allocator keeping pages (RSS alone cannot). Not the heap in use at the
   *   moment of the sample: that counts the garbage awaiting the next major collection, which
   *   rises for minutes whether or not anything leaks.
   */
  constructor(readonly name: string, readonly launch: () => ChildProcess, readonly ready: () => Promise<void>, readonly metricsUrl?: string) {}

  async start(): Promise<void> {
    const child = this.launch();
    this.child = child;
    this.backlog = undefined;
    const run: Managed["runs"][number] = { pid: child.pid!, startedAt: Date.now(), samples: [], heap: [], committed: [], external: [] };
    this.runs.push(run);
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      run.endedBy ??= `exit ${code ?? signal}`;
    });
    await this.ready();
  }

  async stop(signal: NodeJS.Signals, why: string): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.runs[this.runs.length - 1].endedBy = why;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await Promise.race([exited, sleep(30_000).then(() => child.kill("SIGKILL"))]);
  }

  /**
   * One sample of this run's memory. `backlog` says whether a backlog is
   * being built or drained now (asked again when the heap's figure arrives,
   * which brings the relay's backlog with it): such samples are not judged.
   */
  sample(backlog: () => boolean = () => false): void {
    const run = this.runs[this.runs.length - 1];
    if (!this.child || !run) return;
    const t = Date.now() - run.startedAt;
    const bytes = residentBytes(run.pid);
    if (bytes !== undefined) run.samples.push({ t, bytes, ...(backlog() ? { backlog: true } : {}) });
    if (this.metricsUrl) {
      fetch(this.metricsUrl)
        .then((res) => res.text())
        .then((text) => {
          const depth = /^xsedge_relay_backlog (\d+)/m.exec(text);
          if (depth) this.backlog = Number(depth[1]);
          const live = LIVE_HEAP.exec(text);
          // 0: no major collection yet in this run.
          const inBacklog = backlog() ? { backlog: true } : {};
          if (live && Number(live[1]) > 0) run.heap.push({ t, bytes: Number(live[1]), ...inBacklog });
          const committed = V8_HEAP_COMMITTED.exec(text);
          if (committed) run.committed.push({ t, bytes: Number(committed[1]), ...inBacklog });
          const external = EXTERNAL.exec(text);
          if (external) run.external.push({ t, bytes: Number(external[1]), ...inBacklog });
        })
        .catch(() => {});
    }
  }
}

export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`soak: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** A check that passes once `url` answers at all (a 503 from /healthz is an answer). */
export const answers = (url: string) => async () => (await fetch(url)).status > 0;
