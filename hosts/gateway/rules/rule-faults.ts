/*
 * A rule's faults as its runner keeps them: counts by kind, failures in a
 * row, the last message, and the observation it must step past one event
 * at a time before a success counts again. Also how a dead worker's death
 * reads as a fault of the rule that was running on it. Free of I/O.
 */
import { afterFault, type FaultDecision } from "./fault-policy.js";
import { describeFault, faultLine, type FaultContext } from "./fault-report.js";
import type { RuleVersion } from "./rule-version.js";
import type { WorkerDiedError } from "./rule-worker.js";
import type { Fault, FaultKind, ResolvedLimits, WireEvent } from "./xs/protocol.js";

/** The fault a worker's death stands for, for the rule whose request was in flight. */
export function deathFault(error: WorkerDiedError, limits: ResolvedLimits, handler: string): Fault {
  const kind: FaultKind = error.death === "compute" ? "compute" : error.death === "memory" ? "memory" : "crash";
  let message: string;
  switch (error.death) {
    case "compute":
      message = `used up its compute budget of ${limits.computePerEvent.toLocaleString("en")} computrons in one event (an endless loop?): the engine stopped it`;
      break;
    case "memory":
      message = "the engine ran out of memory (the worker's rules.workerMemoryBytes): a memory blow-up";
      break;
    case "watchdog":
      message = "a delivery overran its watchdog: the worker was killed";
      break;
    default:
      message = `the engine stopped: ${error.message}`;
  }
  return { kind, message, handler };
}

export interface RecordedFault {
  message: string;
  line: string | undefined;
  decision: FaultDecision;
}

export class RuleFaults {
  readonly #byKind: Partial<Record<FaultKind, number>> = {};
  #consecutive = 0;
  #lastError: { at: number; message: string } | null = null;
  /** After a fault: deliver one observation at a time until past this id. */
  #cautiousThrough: number | null = null;

  get byKind(): Partial<Record<FaultKind, number>> {
    return { ...this.#byKind };
  }

  get total(): number {
    let total = 0;
    for (const n of Object.values(this.#byKind)) total += n ?? 0;
    return total;
  }

  get consecutive(): number {
    return this.#consecutive;
  }

  get lastError(): { at: number; message: string } | null {
    return this.#lastError;
  }

  /** The faults as a rule's figures show them. */
  figures(): { failures: Partial<Record<FaultKind, number>>; failuresTotal: number; consecutiveFailures: number; lastError: { at: number; message: string } | null } {
    return { failures: this.byKind, failuresTotal: this.total, consecutiveFailures: this.#consecutive, lastError: this.#lastError };
  }

  /** Whether the next delivery from `position` must hold a single observation. */
  cautiousAt(position: number): boolean {
    return this.#cautiousThrough !== null && position < this.#cautiousThrough;
  }

  /** A delivery through `through` succeeded: failures stop counting as in a row once the rule is past the one that failed. */
  succeeded(through: number): void {
    if (this.#cautiousThrough === null || through >= this.#cautiousThrough) {
      this.#consecutive = 0;
      this.#cautiousThrough = null;
    }
  }

  /** A fresh start (a new version, an operator's enable): nothing in a row any more. */
  reset(): void {
    this.#consecutive = 0;
    this.#cautiousThrough = null;
  }

  /** Counts a fault, says it in words, and decides what follows (fault-policy.ts). */
  record(fault: Fault, version: RuleVersion, context: FaultContext, events: readonly WireEvent[], failedAt: number | undefined, at: number, delays: readonly number[]): RecordedFault {
    this.#consecutive++;
    this.#byKind[fault.kind] = (this.#byKind[fault.kind] ?? 0) + 1;
    const line = faultLine(fault, version, () => version.lines());
    const observations = events.flatMap((e) => (e.kind === "observation" ? [e.o.id] : []));
    const among = context.observation === undefined && observations.length > 1 ? ` (during observations ${observations[0]}–${observations[observations.length - 1]})` : "";
    const message = describeFault(fault, line, context) + among;
    this.#lastError = { at, message };
    // The events before the one that failed are replayed one at a time, so they commit and the failing one is found.
    this.#cautiousThrough = failedAt ?? (observations.length > 0 ? observations[observations.length - 1] : this.#cautiousThrough);
    return { message, line, decision: afterFault(this.#consecutive, delays) };
  }
}
