/*
 * One xsnap-worker process running the rule host (xs/rule-host.ts), driven
 * over its netstring pipes (fd 3 to it, fd 4 from it), never blocking the
 * gateway's event loop: every request is a write and a promise.
 *
 * The limits that make a rule's fault cost only that rule are set here:
 *  - `-i`: xsnap checks its meter every METER_INTERVAL computrons, which
 *    turns on the per-event budgets the host sets with resetMeter (without
 *    -i or -l the meter is never checked and `while (true) {}` runs forever);
 *  - `-l`: a backstop on what one delivery may spend outside the rules'
 *    budgets (the host's own code, and promise jobs a rule left behind);
 *  - `ulimit -d` (RLIMIT_DATA) caps the process's heap, so a rule that
 *    allocates without end makes XS fail to grow (exit 11) long before the
 *    Pi runs out of memory. XS's own cap is 2 GB;
 *  - a watchdog on each request kills the process if a delivery overruns
 *    (something the meter does not count, such as a pathological regular
 *    expression), counting the worker's own CPU time (hosts/proc/process-cpu.ts), so
 *    a worker kept off the CPU is not taken for one that overran;
 *  - the SCHED_IDLE scheduling policy (`chrt --idle`; a nice value of
 *    RULE_WORKER_NICENESS where chrt is missing), so that the kernel runs
 *    the gateway's threads (PUBACKs, their fsync, the relay) and whatever
 *    else wants a core before a rule: a rule that needs the CPU lags
 *    instead of slowing acknowledgements. A nice value still takes its
 *    share of a core from a busy gateway; SCHED_IDLE takes only what is
 *    left over, and gives the core up as soon as the gateway wakes.
 * A limit that trips ends the process: the gateway blames the rule whose
 * request was in flight, starts a new worker and loads the rules again
 * from their committed state (worker-pool.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setPriority } from "node:os";
import { cpuTimeMs } from "../../proc/process-cpu.js";
import { fileURLToPath } from "node:url";
import type { Readable, Writable } from "node:stream";
import { NetstringDecoder, encodeNetstring } from "../../../simulator/engine/netstring.js";
import { xsnapWorkerPath } from "../../../simulator/engine/xsnap-worker.js";
import { QUANTITIES } from "../../../modules/observation/record.js";
import type { HostRequest } from "./xs/protocol.js";

/** The rule workers' nice value (0 is the gateway's, 19 the lowest) where SCHED_IDLE cannot be had: rules yield the CPU to acknowledging devices. */
export const RULE_WORKER_NICENESS = 10;
/**
 * A request's watchdog gives up on a worker kept off the CPU after this many times its timeout of wall time, even
 * without the CPU time used up: a worker that waits on something other than the CPU for that long is stuck.
 */
export const WATCHDOG_WALL_FACTOR = 10;
/** Computrons between meter checks: a budget overruns by at most this, and checking costs little (measured: no slower than 1). */
export const METER_INTERVAL = 10_000;
/** What one delivery may spend outside the rules' own budgets (about a second of XS work): the host's code needs a few million. */
export const DELIVERY_BACKSTOP_COMPUTRONS = 200_000_000;
/** Largest reply accepted from a worker: far above what the per-event caps allow a delivery to say. */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;
const STDERR_TAIL_BYTES = 2048;
/** xsnap-worker's exit codes for a tripped limit (xsnap-worker.c ExitCode). */
const EXIT_NOT_ENOUGH_MEMORY = 11;
const EXIT_STACK_OVERFLOW = 12;
const EXIT_TOO_MUCH_COMPUTATION = 17;

const RULE_HOST = fileURLToPath(new URL("../../../../build/rules/rule-host.js", import.meta.url));

export interface WorkerMeter {
  /** Bytes the XS machine holds for its heaps (xsnap's `allocate`): it grows when live data needs room, and does not shrink. */
  allocate: number;
  compute: number;
}

export interface WorkerReply<T> {
  reply: T;
  meter: WorkerMeter;
  /** The machine's `allocate` when this request started: what it grew by is this request's doing. */
  allocateBefore: number;
}

/** Why a worker ended. */
export type WorkerDeath = "compute" | "memory" | "stack" | "watchdog" | "closed" | "crash";

export class WorkerDiedError extends Error {
  readonly death: WorkerDeath;
  /** The worker was running this request when it died (so the request's rule is to blame); false for one still queued. */
  readonly inFlight: boolean;
  constructor(worker: string, death: WorkerDeath, detail: string, inFlight = false) {
    super(`${worker}: ${detail}`);
    this.name = "WorkerDiedError";
    this.death = death;
    this.inFlight = inFlight;
  }
}

export interface RuleWorkerOptions {
  name: string;
  /** RLIMIT_DATA of the process, bytes. */
  memoryCapBytes: number;
  /** Lines the worker prints (the host prints nothing; XS reports its own troubles here). */
  onPrint?: (line: string) => void;
}

interface Pending {
  resolve(reply: WorkerReply<unknown>): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  allocateBefore: number;
}

const OK = 0x2e; // '.'
const ERROR = 0x21; // '!'
const METER_SEPARATOR = 0x01;

let ruleHostSource: string | undefined;

function classify(code: number | null, signal: NodeJS.Signals | null, watchdog: boolean, closing: boolean): { death: WorkerDeath; detail: string } {
  if (watchdog) return { death: "watchdog", detail: "killed: a delivery overran its watchdog" };
  if (closing) return { death: "closed", detail: "closed" };
  if (code === EXIT_TOO_MUCH_COMPUTATION) return { death: "compute", detail: "the compute budget ran out (xsnap exit 17)" };
  if (code === EXIT_NOT_ENOUGH_MEMORY) return { death: "memory", detail: "out of memory (xsnap exit 11)" };
  if (code === EXIT_STACK_OVERFLOW) return { death: "stack", detail: "stack overflow (xsnap exit 12)" };
  return { death: "crash", detail: `exited (code ${code}, signal ${signal})` };
}

export class RuleWorker {
  readonly name: string;
  /** Resolves once the process has ended, with why. */
  readonly exited: Promise<WorkerDiedError>;
  readonly #child: ChildProcess;
  readonly #toWorker: Writable;
  readonly #decoder = new NetstringDecoder(MAX_REPLY_BYTES);
  readonly #queue: Array<{ message: Buffer; timeoutMs: number; pending: Pending }> = [];
  #current: Pending | undefined;
  #death: WorkerDiedError | undefined;
  #watchdogFired = false;
  #closing = false;
  #stderrTail = "";
  #lastMeter: WorkerMeter = { allocate: 0, compute: 0 };

  /** Spawns the process; `ready()` loads the rule host into it. */
  constructor(options: RuleWorkerOptions) {
    this.name = options.name;
    const kib = Math.max(1, Math.floor(options.memoryCapBytes / 1024));
    // The shell sets the limit and replaces itself with the worker (through chrt, which execs it in turn), so the pid is the worker's.
    this.#child = spawn(
      "/bin/sh",
      ["-c", `ulimit -d ${kib} && if command -v chrt >/dev/null 2>&1; then exec chrt --idle 0 "$0" "$@"; fi; exec "$0" "$@"`, xsnapWorkerPath(), options.name, "-i", String(METER_INTERVAL), "-l", String(DELIVERY_BACKSTOP_COMPUTRONS)],
      { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"] },
    );
    // The pid is the shell's until it execs, and the same process after: the priority carries over.
    if (this.#child.pid !== undefined) {
      try {
        setPriority(this.#child.pid, RULE_WORKER_NICENESS);
      } catch {
        // Gone already (its exit is reported as for any death), or not allowed here: rules run at the gateway's priority.
      }
    }
    this.#toWorker = this.#child.stdio[3] as Writable;
    const fromWorker = this.#child.stdio[4] as Readable;
    this.#toWorker.on("error", () => {});
    fromWorker.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      for (const line of text.split("\n")) if (line.length > 0) options.onPrint?.(line);
    });
    this.#child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        const { death, detail } = classify(code, signal, this.#watchdogFired, this.#closing);
        const tail = this.#stderrTail.trim();
        this.#death = new WorkerDiedError(this.name, death, tail ? `${detail}: ${tail}` : detail);
        this.#failAll(this.#death);
        resolve(this.#death);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#death === undefined;
  }

  /** The meter of the last reply: what the machine holds now. */
  get meter(): WorkerMeter {
    return this.#lastMeter;
  }

  /** Evaluates the rule host (told the quantities a derived observation may carry). */
  async ready(timeoutMs: number): Promise<void> {
    ruleHostSource ??= readFileSync(RULE_HOST, "utf8");
    const quantities = JSON.stringify(Object.keys(QUANTITIES));
    await this.#send(Buffer.from(`eglobalThis.ruleHostQuantities = ${quantities};\n${ruleHostSource}`), timeoutMs);
  }

  /**
   * Sends one request to the rule host; rejects with WorkerDiedError if the
   * process ends first (or overruns `timeoutMs`). An `urgent` one goes
   * before those queued (a hand-over's, while other rules' deliveries wait).
   */
  async request<T>(request: HostRequest, timeoutMs: number, urgent = false): Promise<WorkerReply<T>> {
    return this.requestJson<T>(JSON.stringify(request), timeoutMs, urgent);
  }

  /** As `request`, the request already encoded (a delivery's: delivery-encoding.ts). */
  async requestJson<T>(json: string, timeoutMs: number, urgent = false): Promise<WorkerReply<T>> {
    const message = Buffer.from(`?${json}`, "utf8");
    const { reply, meter, allocateBefore } = await this.#send(message, timeoutMs, urgent);
    return { reply: JSON.parse(reply as string) as T, meter, allocateBefore };
  }

  /** Ends the process (requests in flight fail with a "closed" death). */
  async close(): Promise<void> {
    if (this.#death === undefined) {
      this.#closing = true;
      this.#child.kill("SIGKILL");
    }
    await this.exited;
  }

  #send(message: Buffer, timeoutMs: number, urgent = false): Promise<WorkerReply<unknown>> {
    if (this.#death) return Promise.reject(this.#death);
    return new Promise((resolve, reject) => {
      const entry = { message, timeoutMs, pending: { resolve, reject, timer: undefined, allocateBefore: 0 } };
      if (urgent) this.#queue.unshift(entry);
      else this.#queue.push(entry);
      this.#next();
    });
  }

  #next(): void {
    if (this.#current || this.#queue.length === 0 || this.#death) return;
    const { message, timeoutMs, pending } = this.#queue.shift()!;
    this.#current = pending;
    pending.allocateBefore = this.#lastMeter.allocate;
    const cpuAtStart = cpuTimeMs(this.#child.pid);
    const startedAt = performance.now();
    const watch = (ms: number) => {
      pending.timer = setTimeout(() => {
        const used = cpuAtStart === undefined ? undefined : (cpuTimeMs(this.#child.pid) ?? Infinity) - cpuAtStart;
        // Kept off the CPU (it yields to the gateway): it has not overrun until it has had its time on it.
        if (used !== undefined && used < timeoutMs && performance.now() - startedAt < timeoutMs * WATCHDOG_WALL_FACTOR) {
          return watch(Math.max(1, timeoutMs - used));
        }
        this.#watchdogFired = true;
        this.#child.kill("SIGKILL");
      }, ms);
    };
    watch(timeoutMs);
    this.#toWorker.write(encodeNetstring(message));
  }

  #onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.#decoder.push(chunk);
    } catch {
      this.#child.kill("SIGKILL");
      return;
    }
    for (const message of messages) this.#onMessage(message);
  }

  #onMessage(message: Buffer): void {
    const pending = this.#current;
    this.#current = undefined;
    if (!pending) {
      this.#child.kill("SIGKILL");
      return;
    }
    clearTimeout(pending.timer);
    const kind = message[0];
    if (kind === OK) {
      const separator = message.indexOf(METER_SEPARATOR, 1);
      let meter = this.#lastMeter;
      if (separator > 0) {
        const parsed = JSON.parse(message.subarray(1, separator).toString("utf8")) as WorkerMeter;
        meter = { allocate: parsed.allocate, compute: parsed.compute };
      }
      this.#lastMeter = meter;
      pending.resolve({ reply: message.subarray(separator > 0 ? separator + 1 : 1).toString("utf8"), meter, allocateBefore: pending.allocateBefore || meter.allocate });
    } else if (kind === ERROR) {
      pending.reject(new Error(`${this.name}: the rule host failed: ${message.subarray(1).toString("utf8").slice(0, 500)}`));
    } else {
      pending.reject(new Error(`${this.name}: unknown reply '${String.fromCharCode(kind)}'`));
    }
    this.#next();
  }

  #failAll(error: WorkerDiedError): void {
    const current = this.#current;
    this.#current = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.reject(new WorkerDiedError(this.name, error.death, error.message.slice(this.name.length + 2), true));
    }
    for (const { pending } of this.#queue.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}
