/*
 * A process the soak runs: started (and ready), killed, started again;
 * each run keeps its own series of memory samples, taken from outside.
 */
import type { ChildProcess } from "node:child_process";
import type { MemorySample } from "./memory-trend.js";
import { residentBytes } from "./proc-memory.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process the soak starts, kills and restarts; each run (incarnation) has its own memory series. */
export class Managed {
  child: ChildProcess | undefined;
  runs: Array<{ pid: number; startedAt: number; samples: MemorySample[]; heap: MemorySample[]; endedBy?: string }> = [];
  /**
   * @param metricsUrl where the process serves Prometheus metrics: its JS heap in use is sampled
   *   too, which tells a leak in JavaScript from the allocator keeping pages (RSS alone cannot).
   */
  constructor(readonly name: string, readonly launch: () => ChildProcess, readonly ready: () => Promise<void>, readonly metricsUrl?: string) {}

  async start(): Promise<void> {
    const child = this.launch();
    this.child = child;
    const run: Managed["runs"][number] = { pid: child.pid!, startedAt: Date.now(), samples: [], heap: [] };
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

  sample(): void {
    const run = this.runs[this.runs.length - 1];
    if (!this.child || !run) return;
    const t = Date.now() - run.startedAt;
    const bytes = residentBytes(run.pid);
    if (bytes !== undefined) run.samples.push({ t, bytes });
    if (this.metricsUrl) {
      fetch(this.metricsUrl)
        .then((res) => res.text())
        .then((text) => {
          const used = /^nodejs_heap_size_used_bytes (\d+)/m.exec(text);
          if (used) run.heap.push({ t, bytes: Number(used[1]) });
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
