/*
 * The relay's gate for rules that decide what is relayed (relay: "decide",
 * e.g. five-minute averages sent instead of raw samples).
 *
 * "Decide per observation whether it is relayed" meets "a rule that falls
 * behind never holds back the relay" here: a row of a sensor such a rule
 * selects waits for the rule's verdict, but only until it is
 * `verdictWaitMs` old (from its receipt); then it is relayed anyway, and
 * counted (fail open: the cloud gets a raw sample too many, never one too
 * few). A rule that is disabled gives no verdicts, so it holds nothing.
 * The verdict is the rule's committed offset: a row at or below it that is
 * still unrelayed was not kept local (keeping it local takes it out of the
 * outbox in the same transaction), so it may go.
 *
 * A row relayed because its wait ran out may get a keep-local verdict
 * later: that verdict is ignored (the row is on its way), and counted.
 * Pure, but for the clock the relay passes in.
 */
import type { RelayGate } from "../relay/relay-gate.js";
import type { StoredObservation } from "../store/observation-store.js";
import type { RuleSelector } from "./rule-selector.js";

/** Five seconds: several commit intervals and deliveries, far below any cloud's own latency, short enough that a stalled rule costs only a delay. */
export const DEFAULT_VERDICT_WAIT_MS = 5000;
/** Ids of rows relayed on timeout remembered at most (each a number); older ones are forgotten, their late verdicts then go uncounted. */
const MAX_LATE_IDS = 100_000;

/** What the gate needs of a rule that decides relaying. */
export interface DecidingRule {
  readonly selector: RuleSelector;
  /** The last observation id whose verdict is committed. */
  readonly committedPosition: number;
  /** A disabled rule gives no verdicts. */
  readonly givesVerdicts: boolean;
}

export interface VerdictStats {
  /** Rows relayed because their wait for a verdict ran out. */
  verdictTimeouts: number;
  /** Keep-local verdicts that came after their row was relayed on timeout. */
  lateVerdicts: number;
  /** Rows held back by the last read. */
  held: number;
}

export class RelayVerdicts implements RelayGate {
  readonly #rules: () => readonly DecidingRule[];
  readonly #isDerived: (sensorId: string) => boolean;
  readonly #waitMs: number;
  readonly #late = new Set<number>();
  #timeouts = 0;
  #lateVerdicts = 0;
  #held = 0;

  /** `isDerived`: a rule's virtual sensor (rules see only devices' rows, so none gives verdicts on those). */
  constructor(rules: () => readonly DecidingRule[], isDerived: (sensorId: string) => boolean, waitMs = DEFAULT_VERDICT_WAIT_MS) {
    this.#rules = rules;
    this.#isDerived = isDerived;
    this.#waitMs = waitMs;
  }

  admit(rows: readonly StoredObservation[], now: number): StoredObservation[] {
    const deciding = this.#rules().filter((rule) => rule.givesVerdicts);
    this.#held = 0;
    if (deciding.length === 0 || rows.length === 0) return rows as StoredObservation[];
    const heldSensors = new Set<string>();
    // The relay reads its next batch on every wake, mostly the same sensors: each sensor's rules are found once a read.
    const rulesOf = new Map<string, readonly DecidingRule[]>();
    const admitted: StoredObservation[] = [];
    for (const row of rows) {
      const { sensorId, readings } = row.observation;
      if (heldSensors.has(sensorId)) {
        this.#held++;
        continue;
      }
      let selecting = rulesOf.get(sensorId);
      if (selecting === undefined) {
        selecting = this.#isDerived(sensorId) ? [] : deciding.filter((rule) => rule.selector.matchesSensor(sensorId));
        rulesOf.set(sensorId, selecting);
      }
      const waiting = selecting.length > 0 && selecting.some((rule) => rule.committedPosition < row.id && rule.selector.matchesReadings(readings));
      if (!waiting) admitted.push(row);
      else if (now - row.receivedAt >= this.#waitMs) {
        // A row read again (its send failed) is one timeout, not two.
        if (!this.#late.has(row.id)) this.#timeouts++;
        this.#rememberLate(row.id);
        admitted.push(row);
      } else {
        heldSensors.add(sensorId);
        this.#held++;
      }
    }
    return admitted;
  }

  /** Whether a keep-local verdict for this row comes too late (it was relayed on timeout); counted. */
  isLate(observationId: number): boolean {
    if (!this.#late.delete(observationId)) return false;
    this.#lateVerdicts++;
    return true;
  }

  stats(): VerdictStats {
    return { verdictTimeouts: this.#timeouts, lateVerdicts: this.#lateVerdicts, held: this.#held };
  }

  #rememberLate(id: number): void {
    if (this.#late.has(id)) return;
    if (this.#late.size >= MAX_LATE_IDS) {
      const oldest = this.#late.values().next().value as number;
      this.#late.delete(oldest);
    }
    this.#late.add(id);
  }
}
