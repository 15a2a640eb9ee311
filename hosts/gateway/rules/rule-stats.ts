/*
 * A rule's figures, as the API, the dashboard, `xsedge rules` and /metrics
 * show them, and its lag: counted exactly only up to MAX_COUNTED_LAG rows,
 * so reading the figures never blocks the event loop on a long backlog.
 */
import type { ObservationStore } from "../store/observation-store.js";
import type { DeliverReply, FaultKind, ResolvedLimits } from "./xs/protocol.js";
import type { RuleVersion } from "./rule-version.js";

/** Backlog counted exactly up to this (a scan of that many rows, well under a millisecond); beyond it, estimated from row ids. */
export const MAX_COUNTED_LAG = 1000;

export type RunnerStatus = "running" | "stopped" | "disabled";

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

/** What a rule's figures say of the version it runs. */
export function versionFigures(version: RuleVersion): Pick<RuleStats, "version" | "hash" | "file" | "relay" | "sensors" | "quantities" | "limits"> {
  const { summary } = version;
  return { version: version.version, hash: version.hash, file: version.file, relay: summary.relay, sensors: summary.sensors, quantities: summary.quantities, limits: summary.limits };
}

/** How far behind a rule at `position` is: devices' observations after it, and how long the oldest has waited. */
export function lagOf(store: ObservationStore, position: number, now: number): { lagObservations: number; lagMs: number } {
  if (!store.isOpen) return { lagObservations: 0, lagMs: 0 };
  const first = store.rules.inputsAfter(position, 1)[0];
  if (!first) return { lagObservations: 0, lagMs: 0 };
  let lag = store.rules.backlog(position, MAX_COUNTED_LAG);
  // Past the count, every row after the offset is taken for a device's: an estimate that errs by the rules' own outputs.
  if (lag >= MAX_COUNTED_LAG) lag = Math.max(lag, store.queries.latestId() - position);
  return { lagObservations: lag, lagMs: Math.max(0, now - first.received_at) };
}

/** What a rule's deliveries did, counted. */
export class RuleCounts {
  #events = 0;
  #deliveries = 0;
  #derived = 0;
  #alerts = 0;
  #keptLocal = 0;
  #computeMax = 0;
  #computeTotal = 0;

  /** A delivery was sent (whether it came back good or not). */
  sent(): void {
    this.#deliveries++;
  }

  delivered(reply: Extract<DeliverReply, { ok: true }>): void {
    this.#events += reply.events;
    this.#computeTotal += reply.computeTotal;
    this.#computeMax = reply.computeMax;
    for (const result of reply.results) {
      this.#derived += result.derived.length;
      this.#alerts += result.alerts.length;
      if (result.keepLocal) this.#keptLocal++;
    }
  }

  figures(): Pick<RuleStats, "events" | "deliveries" | "derived" | "alerts" | "keptLocal" | "computeMax" | "computePerEvent"> {
    return {
      events: this.#events,
      deliveries: this.#deliveries,
      derived: this.#derived,
      alerts: this.#alerts,
      keptLocal: this.#keptLocal,
      computeMax: this.#computeMax,
      computePerEvent: this.#events === 0 ? 0 : Math.round(this.#computeTotal / this.#events),
    };
  }
}
