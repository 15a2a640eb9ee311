import { test } from "uvu";
import * as assert from "uvu/assert";
import { backoffDelay, INITIAL_RELAY_STATE, nextRelay, type RelayEvent, type RelayState } from "../../../hosts/gateway/relay/machine.js";

const policy = { intervalMs: 1000, retryInitialMs: 100, retryMaxMs: 1000 };

function run(events: RelayEvent[], from: RelayState = INITIAL_RELAY_STATE) {
  let state = from;
  const effects = [];
  for (const event of events) {
    const step = nextRelay(state, event, policy);
    state = step.state;
    effects.push(step.effects);
  }
  return { state, effects };
}

test("a wake while idle sends a batch", () => {
  const { state, effects } = run([{ type: "wake" }]);
  assert.is(state.phase, "sending");
  assert.equal(effects[0], [{ type: "cancel-wait" }, { type: "send" }]);
});

test("a full batch is followed at once by the next; a partial one by the idle interval", () => {
  const { state, effects } = run([{ type: "wake" }, { type: "sent", more: true }, { type: "sent", more: false }]);
  assert.equal(effects[1], [{ type: "send" }]);
  assert.equal(effects[2], [{ type: "wait", ms: 1000 }]);
  assert.is(state.phase, "idle");
});

test("a wake during a send makes the relay send again when the send completes", () => {
  const { state, effects } = run([{ type: "wake" }, { type: "wake" }, { type: "sent", more: false }]);
  assert.equal(effects[1], []);
  assert.equal(effects[2], [{ type: "send" }]);
  assert.is(state.phase, "sending");
  assert.not.ok(state.wakePending);
});

test("failures back off exponentially up to the cap, and a success resets the count", () => {
  const failOnce: RelayEvent[] = [{ type: "failed" }, { type: "timer" }];
  const { state, effects } = run([{ type: "wake" }, ...failOnce, ...failOnce, ...failOnce, ...failOnce, ...failOnce]);
  const waits = effects.flat().filter((e) => e.type === "wait").map((e) => (e.type === "wait" ? e.ms : 0));
  assert.equal(waits, [100, 200, 400, 800, 1000]);
  assert.is(state.phase, "sending");
  assert.is(state.consecutiveFailures, 5);
  const after = nextRelay(state, { type: "sent", more: false }, policy);
  assert.is(after.state.consecutiveFailures, 0);
});

test("a wake during backoff does not cut the backoff short", () => {
  const { state, effects } = run([{ type: "wake" }, { type: "failed" }, { type: "wake" }]);
  assert.is(state.phase, "backing-off");
  assert.equal(effects[2], []);
});

test("the link coming back ends a backoff at once; while idle or sending it changes nothing", () => {
  const { state, effects } = run([{ type: "wake" }, { type: "failed" }, { type: "link-up" }]);
  assert.is(state.phase, "sending");
  assert.equal(effects[2], [{ type: "cancel-wait" }, { type: "send" }]);
  assert.equal(run([{ type: "link-up" }]).effects, [[]]);
  assert.equal(run([{ type: "wake" }, { type: "link-up" }]).effects[1], []);
});

test("close cancels the timer and everything after it is ignored", () => {
  const { state, effects } = run([{ type: "wake" }, { type: "close" }, { type: "sent", more: true }, { type: "timer" }, { type: "wake" }]);
  assert.is(state.phase, "closed");
  assert.equal(effects.slice(1), [[{ type: "cancel-wait" }], [], [], []]);
});

const windowed = { ...policy, window: 3 };
function runWith(p: typeof windowed, events: RelayEvent[]) {
  let state = INITIAL_RELAY_STATE;
  const effects = [];
  for (const event of events) {
    const step = nextRelay(state, event, p);
    state = step.state;
    effects.push(step.effects);
  }
  return { state, effects };
}

test("with a window, a wake during a send sends alongside it, up to the window; then it waits as with one", () => {
  const { state, effects } = runWith(windowed, [{ type: "wake" }, { type: "wake" }, { type: "wake" }, { type: "wake" }]);
  assert.equal(effects.slice(1), [[{ type: "send" }], [{ type: "send" }], []]);
  assert.is(state.inFlight, 3);
  assert.ok(state.wakePending);
  const back = runWith(windowed, [{ type: "wake" }, { type: "wake" }, { type: "sent", more: false }, { type: "sent", more: false }]);
  assert.equal(back.effects.slice(2), [[], [{ type: "wait", ms: 1000 }]], "idle once the last send is back");
  assert.is(back.state.phase, "idle");
});

test("with a window, a relay behind (its last batch full) sends one batch at a time", () => {
  const { state, effects } = runWith(windowed, [{ type: "wake" }, { type: "sent", more: true }, { type: "wake" }, { type: "sent", more: false }, { type: "wake" }]);
  assert.equal(effects[1], [{ type: "send" }]);
  assert.equal(effects[2], [], "behind: the wake waits for the send in flight");
  assert.equal(effects[3], [{ type: "send" }]);
  assert.equal(effects[4], [{ type: "send" }], "caught up: alongside again");
  assert.is(state.inFlight, 2);
});

test("with a window, a failure stops new sends and backs off once, when every send in flight is back", () => {
  const { state, effects } = runWith(windowed, [{ type: "wake" }, { type: "wake" }, { type: "wake" }, { type: "failed" }, { type: "wake" }, { type: "failed" }, { type: "sent", more: true }]);
  assert.equal(effects.slice(3), [[], [], [], [{ type: "wait", ms: 100 }]]);
  assert.is(state.phase, "backing-off");
  assert.is(state.consecutiveFailures, 1, "one failed round");
  assert.is(state.inFlight, 0);
});

test("a send that held rows back behind another sends again when it is back", () => {
  const { effects } = runWith(windowed, [{ type: "wake" }, { type: "wake" }, { type: "sent", more: false, held: true }]);
  assert.equal(effects[2], [{ type: "send" }]);
});

test("backoffDelay stays finite for huge failure counts", () => {
  assert.is(backoffDelay(10_000, policy), 1000);
  assert.is(backoffDelay(1, policy), 100);
});

test.run();
