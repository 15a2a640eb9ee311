/*
 * A rule's slot loaded into its worker, and one delivery of its events to
 * it, and what came
 * back judged: accepted, a fault of this rule (a death while its request
 * was in flight, a fault the rule host reported, heap growth over the
 * rule's memoryBytes, outputs it may not make), or nothing to judge (the
 * worker was replaced or died under another rule's request: load again).
 * The runner (rule-runner.ts) acts on the outcome.
 */
import type { RunnerEnv } from "./runner-env.js";
import { onlyObservation } from "./delivery-plan.js";
import { deliverRequestJson } from "./delivery-encoding.js";
import type { FaultContext } from "./fault-report.js";
import { refuseOutputs } from "./output-checks.js";
import { deathFault } from "./rule-faults.js";
import type { RuleVersion } from "./rule-version.js";
import { WorkerDiedError, type RuleWorker } from "./rule-worker.js";
import type { DeliverReply, Fault, LoadReply, WireEvent } from "./xs/protocol.js";

/** A delivery's watchdog: this much, plus this much per event (the meter stops a loop long before). */
const WATCHDOG_BASE_MS = 5000;
const WATCHDOG_PER_EVENT_MS = 20;
/** A load or an unload answers in milliseconds; this long means the worker is stuck. */
export const LOAD_TIMEOUT_MS = 10_000;

/** `retry`: the worker died under another rule's request, or was closed (not this rule's doing). */
export type LoadOutcome = { kind: "loaded"; worker: RuleWorker } | { kind: "fault"; fault: Fault } | { kind: "retry" };

/** Loads `version` with `state` into the rule's worker (started first if need be). */
export async function loadSlot(env: RunnerEnv, version: RuleVersion, workerIndex: number, state: string | null): Promise<LoadOutcome> {
  try {
    const worker = await env.pool.worker(workerIndex);
    const { reply } = await worker.request<LoadReply>(
      { op: "load", slot: version.slot, code: version.bundle, file: version.bundleFile, state, ...env.limits },
      LOAD_TIMEOUT_MS,
    );
    return reply.ok ? { kind: "loaded", worker } : { kind: "fault", fault: reply.error };
  } catch (e) {
    if (e instanceof WorkerDiedError && (!e.inFlight || e.death === "closed")) return { kind: "retry" };
    return { kind: "fault", fault: e instanceof WorkerDiedError ? deathFault(e, version.summary.limits, "module") : { kind: "crash", message: (e as Error).message } };
  }
}

export type DeliveryOutcome =
  | { kind: "accepted"; reply: Extract<DeliverReply, { ok: true }> }
  /** `answered`: the worker replied (a fault it reported, or one judged from its reply). */
  | { kind: "fault"; fault: Fault; context: FaultContext; failedAt?: number; answered: boolean }
  | { kind: "reload" };

export interface DeliveryTarget {
  name: string;
  version: RuleVersion;
  /** The pool's index of the rule's worker. */
  worker: number;
  /** The worker process the slot was loaded in. */
  loadedIn: RuleWorker | undefined;
}

export async function deliverEvents(env: RunnerEnv, target: DeliveryTarget, events: WireEvent[]): Promise<DeliveryOutcome> {
  const { summary, slot } = target.version;
  let reply: DeliverReply;
  let grewBy: number;
  try {
    // A turn of its own for the encoding and the write (the read and the plan had theirs: loop-turns.ts).
    await env.turns.turn();
    const worker = await env.pool.worker(target.worker);
    // The worker was replaced since the load: load into the new one first.
    if (worker !== target.loadedIn) return { kind: "reload" };
    const watchdog = WATCHDOG_BASE_MS + WATCHDOG_PER_EVENT_MS * events.length;
    const answer = await worker.requestJson<DeliverReply>(deliverRequestJson(slot, events), watchdog);
    reply = answer.reply;
    grewBy = answer.meter.allocate - answer.allocateBefore;
    if (answer.meter.allocate > env.workerRecycleBytes) env.pool.recycle(target.worker);
  } catch (e) {
    if (!(e instanceof WorkerDiedError)) throw e;
    // Died under another rule's request, while queued, or recycled by the gateway: not this rule's fault.
    if (!e.inFlight || e.death === "closed") return { kind: "reload" };
    const handler = events.some((event) => event.kind === "observation") ? "onObservation" : "onTimer";
    return { kind: "fault", fault: deathFault(e, summary.limits, handler), context: onlyObservation(events), answered: false };
  }
  if (!reply.ok) {
    const observation = reply.observationId === null ? undefined : events.find((e) => e.kind === "observation" && e.o.id === reply.observationId);
    const context: FaultContext = observation?.kind === "observation"
      ? { observation: { id: observation.o.id, sensorId: observation.o.sensorId, seq: observation.o.seq } }
      : reply.timer !== null ? { timer: reply.timer } : onlyObservation(events);
    return { kind: "fault", fault: reply.error, context, failedAt: reply.observationId ?? undefined, answered: true };
  }
  if (grewBy > summary.limits.memoryBytes) {
    const message = `the engine's heap grew by ${(grewBy / 2 ** 20).toFixed(1)} MiB in one delivery, over this rule's memoryBytes of ${(summary.limits.memoryBytes / 2 ** 20).toFixed(1)} MiB`;
    // XS keeps what it grew: a fresh worker, not a bloated one, for the rules that share it.
    env.pool.recycle(target.worker);
    return { kind: "fault", fault: { kind: "memory", message, handler: "onObservation" }, context: onlyObservation(events), answered: true };
  }
  const refusal = refuseOutputs(reply.results, target.name, env.derived);
  if (refusal) return { kind: "fault", fault: { kind: "output", message: refusal, handler: "onObservation" }, context: onlyObservation(events), answered: true };
  return { kind: "accepted", reply };
}
