/*
 * Rules' timers in the real XS engine (xsnap-worker with the rule host),
 * against a model of what the API promises: every timer fires once, at its
 * due time, oldest first (ties by key), before the event that passed it;
 * a timer set again moves, one cleared never fires; and none of it changes
 * when the rule is loaded again from the state a delivery returned (a
 * restart, a hand-over). The host skips its scan of a rule's timers while
 * none can be due (rule-slot.ts): these runs are what that shortcut must
 * not change, with timers set earlier and later than the ones held, moved,
 * cleared and re-armed from onTimer.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RuleWorker } from "../../../hosts/gateway/rules/rule-worker.js";
import { DEFAULT_LIMITS, DEFAULT_WORKER_MEMORY_BYTES, MAX_LIMITS } from "../../../hosts/gateway/rules/rule-limits.js";
import type { DeliverReply, LoadReply, WireEvent } from "../../../hosts/gateway/rules/xs/protocol.js";
import { fc, fuzz } from "../../support/fuzz.js";

const TIMEOUT_MS = 20_000;
const T0 = 1_700_000_000_000;

/**
 * An observation of sensor `k<n>` with value d: d > 0 sets timer k<n> to now + d, d = 0 clears it. A timer whose key
 * ends in "r" sets itself again 7 ms after it fires, until it has fired three times.
 */
const RULE = `export default { name: "timers", select: { sensors: "*" }, initialState: () => ({ fired: {} }),
  onObservation(o, ctx) {
    const d = o.readings[0].value;
    if (d > 0) ctx.setTimer(o.sensorId, ctx.now + d); else ctx.clearTimer(o.sensorId);
  },
  onTimer(key, ctx) {
    ctx.trace(key + "@" + (ctx.now - ${T0}));
    const n = (ctx.state.fired[key] ?? 0) + 1;
    ctx.state.fired[key] = n;
    if (key.endsWith("r") && n < 3) ctx.setTimer(key, ctx.now + 7);
  } };`;

type Step =
  | { kind: "observe"; key: string; at: number; delay: number }
  | { kind: "tick"; at: number }
  /** Load the rule again from the state the last delivery returned. */
  | { kind: "reload" };

/** What the API promises, step by step: the "key@time" lines the timers' onTimer traces, in order. */
function model(steps: Step[]): string[] {
  const timers = new Map<string, number>();
  const fired = new Map<string, number>();
  const lines: string[] = [];
  let clock = 0;
  const fireDue = (now: number) => {
    for (;;) {
      let key: string | undefined;
      let at = Infinity;
      for (const [k, due] of timers) if (due <= now && (due < at || (due === at && k < key!))) [key, at] = [k, due];
      if (key === undefined) return;
      timers.delete(key);
      clock = Math.max(clock, at);
      lines.push(`${key}@${clock}`);
      const n = (fired.get(key) ?? 0) + 1;
      fired.set(key, n);
      if (key.endsWith("r") && n < 3) timers.set(key, clock + 7);
    }
  };
  for (const step of steps) {
    if (step.kind === "reload") continue;
    if (step.kind === "tick") {
      fireDue(step.at);
      clock = Math.max(clock, step.at);
      continue;
    }
    const now = Math.max(clock, step.at);
    fireDue(now);
    clock = now;
    if (step.delay > 0) timers.set(step.key, now + step.delay);
    else timers.delete(step.key);
  }
  return lines;
}

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("observe" as const), key: fc.constantFrom("k1", "k2", "k3", "k4r", "k5r"), at: fc.integer({ min: 0, max: 400 }), delay: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120 })) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("tick" as const), at: fc.integer({ min: 0, max: 500 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: "reload" as const }) },
  ),
  { maxLength: 40 },
);

function wire(step: Step, id: number): WireEvent {
  if (step.kind === "tick") return { kind: "tick", now: T0 + step.at };
  if (step.kind !== "observe") throw new Error("a reload is not an event");
  const at = T0 + step.at;
  return { kind: "observation", o: { id, sensorId: step.key, seq: id, time: at, receivedAt: at, readings: [{ quantity: "temperature", value: step.delay }] } };
}

test("timers fire as the model says: once each, at their due time, oldest first, moved by setTimer, gone by clearTimer, the same across reloads from state", async () => {
  const worker = new RuleWorker({ name: "timers-test", memoryCapBytes: DEFAULT_WORKER_MEMORY_BYTES });
  try {
    await worker.ready(TIMEOUT_MS);
    const load = async (state: string | null) => {
      const { reply } = await worker.request<LoadReply>({ op: "load", slot: "timers", code: RULE, file: "timers.js", state, defaults: DEFAULT_LIMITS, maxima: MAX_LIMITS }, TIMEOUT_MS);
      assert.ok(reply.ok, JSON.stringify(reply));
    };
    const deliver = async (events: WireEvent[]) => {
      const { reply } = await worker.request<DeliverReply>({ op: "deliver", slot: "timers", events }, TIMEOUT_MS);
      if (!reply.ok) throw new Error(JSON.stringify(reply));
      return reply;
    };
    const report = await fuzz("rule timers against their model", steps, async (run) => {
      await load(null);
      let state: string | null = null;
      const lines: string[] = [];
      // Events go in deliveries of up to three, a reload ending one: the shortcut must hold within and across them.
      let pending: WireEvent[] = [];
      const flush = async () => {
        if (pending.length === 0) return;
        const reply = await deliver(pending);
        pending = [];
        state = reply.state;
        for (const result of reply.results) lines.push(...result.traces);
      };
      for (const [i, step] of run.entries()) {
        if (step.kind === "reload") {
          await flush();
          await load(state);
          continue;
        }
        pending.push(wire(step, i + 1));
        if (pending.length === 3) await flush();
      }
      await flush();
      assert.equal(lines, model(run), JSON.stringify(run));
    }, {
      budgetMs: 3000,
      runTimeoutMs: 5000,
      examples: [
        // A timer set earlier than the one held, then a later one moved before it: both fire in due order.
        [
          { kind: "observe", key: "k1", at: 0, delay: 100 },
          { kind: "observe", key: "k2", at: 10, delay: 20 },
          { kind: "observe", key: "k1", at: 20, delay: 5 },
          { kind: "tick", at: 200 },
        ],
        // Cleared before it was due, then a reload: nothing fires; a re-arming timer fires three times across a reload.
        [
          { kind: "observe", key: "k3", at: 0, delay: 50 },
          { kind: "observe", key: "k3", at: 10, delay: 0 },
          { kind: "observe", key: "k4r", at: 10, delay: 30 },
          { kind: "reload" },
          { kind: "tick", at: 45 },
          { kind: "reload" },
          { kind: "tick", at: 100 },
        ],
      ] satisfies Step[][],
    });
    assert.ok(report.runs >= 10, `${report.runs} runs`);
  } finally {
    await worker.close();
  }
});

test.run();
