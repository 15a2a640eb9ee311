/*
 * A rule's self-test: run at every deploy on a fresh copy of the new
 * version (its own slot, its own initial state), with a test clock. It
 * drives the rule through the same delivery path the gateway uses, so what
 * passes here is what will run.
 */
import "./freeze.js";
import type { Outcome, SelfTest, TestObservation } from "../../../../rules/index.js";
import { RuleFault, SelfTestFailure } from "./rule-fault.js";
import type { RuleSlot } from "./rule-slot.js";
import type { EventResult, WireObservation } from "./protocol.js";

/** The test clock starts here (a plausible wall time, 2023-11-14): rules that format dates see a real one. */
const TEST_EPOCH_MS = 1_700_000_000_000;
/** The whole self-test may use this many events' budget: a test of a hundred observations, and a looping one stops in about a second. */
export const SELF_TEST_BUDGET_EVENTS = 100;

function outcome(result: EventResult | undefined): Outcome {
  return {
    derived: result?.derived.map(({ sensorId, readings, time }) => ({ sensorId, readings, time })) ?? [],
    alerts: result?.alerts.map(({ key, active, details }) => ({ key, active, details })) ?? [],
    keptLocal: result?.keepLocal ?? false,
  };
}

export class SelfTestHarness implements SelfTest<unknown> {
  readonly #slot: RuleSlot;
  readonly #state: () => unknown;
  #now = TEST_EPOCH_MS;
  #id = 0;
  readonly #seqs = new Map<string, number>();

  constructor(slot: RuleSlot, state: () => unknown) {
    this.#slot = slot;
    this.#state = state;
  }

  get state(): unknown {
    return this.#state();
  }

  observe(given: TestObservation): Outcome {
    const receivedAt = given.receivedAt ?? this.#now + 1000;
    const seq = given.seq ?? (this.#seqs.get(given.sensorId) ?? 0) + 1;
    this.#seqs.set(given.sensorId, seq);
    const o: WireObservation = {
      id: ++this.#id, sensorId: given.sensorId, seq, time: given.time === undefined ? receivedAt : given.time, receivedAt,
      readings: given.readings.map(({ quantity, value }) => ({ quantity, value })),
    };
    this.#now = Math.max(this.#now, receivedAt);
    const results = this.#deliver([{ kind: "observation", o }]);
    return outcome(results.find((r) => r.observationId === o.id));
  }

  advanceTo(now: number): Outcome[] {
    this.#now = Math.max(this.#now, now);
    return this.#deliver([{ kind: "tick", now }]).map(outcome);
  }

  check(condition: boolean, message: string): void {
    if (!condition) throw new SelfTestFailure(`self-test check failed: ${message}`);
  }

  #deliver(events: Parameters<RuleSlot["deliver"]>[0]): EventResult[] {
    const reply = this.#slot.deliver(events);
    if (!reply.ok) throw new RuleFault(reply.error);
    return reply.results;
  }
}
harden(SelfTestHarness);
