/*
 * A rule's fault costs that rule only: `while (true) {}`, a memory blow-up,
 * a throw, a heap that grows past the rule's memoryBytes, outputs it may
 * not make. Each runs on the real XS engine beside a healthy rule while a
 * device publishes over MQTT; the device keeps being acknowledged, the
 * healthy rule handles every observation, and the faulty one is stopped,
 * counted, logged with its name and .ts line, and disabled after three
 * failures in a row. (How long PUBACKs take meanwhile is a figure of
 * `npm run bench`, not a test.)
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exampleSource, startRulesGateway, RULE_WAIT_MS, type RulesGateway } from "../../support/rules-gateway.js";
import { waitFor } from "../../support/test-helpers.js";

const OBSERVATIONS = 40;
/** The healthy neighbour: the freezer alarm, watching the same sensor. */
const neighbour = exampleSource("freezer-alarm").replace('sensors: "freezer-*"', 'sensors: "s-*"');

function faultyRule(body: string, extra = ""): string {
  return `import { defineRule } from "xsedge/rules";

export default defineRule({
  name: "faulty",
  select: { sensors: "s-*" },${extra}
  initialState: () => ({ seen: 0 }),
  onObservation(observation, ctx) {
    ctx.state.seen++;
    if (observation.seq === 5) {
      ${body}
    }
    ctx.derive({ sensorId: "s-1.copy", readings: observation.readings });
  },
});
`;
}

/** Deploys the neighbour and the faulty rule, publishes OBSERVATIONS while the faulty one fails, and returns the faulty rule's figures once disabled. */
async function runWithFault(t: RulesGateway, source: string) {
  assert.is((await t.deploy(neighbour, "freezer-alarm.ts")).status, 201);
  const deployed = await t.deploy(source, "faulty.ts");
  assert.is(deployed.status, 201, JSON.stringify(deployed.body));
  const device = await t.device("s-1");
  let acknowledged = 0;
  for (let seq = 1; seq <= OBSERVATIONS; seq++) {
    await t.publish(device, seq, [{ quantity: "temperature", value: seq % 2 === 0 ? -20 : -10 }]);
    acknowledged++;
  }
  assert.is(acknowledged, OBSERVATIONS, "every publish was acknowledged");
  const healthy = await t.caughtUp("freezer-alarm");
  assert.is(healthy.events, OBSERVATIONS, "the healthy rule handled every observation");
  assert.is(healthy.failuresTotal, 0, JSON.stringify(healthy.lastError));
  assert.is(healthy.alerts, OBSERVATIONS, "and raised and cleared on each (its alerts flip every sample)");
  const deadline = Date.now() + RULE_WAIT_MS;
  for (;;) {
    const stats = await t.rule("faulty");
    if (stats.status === "disabled") return stats;
    if (Date.now() > deadline) throw new Error(`faulty rule not disabled: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function faultLines(t: RulesGateway): string[] {
  return t.logger.lines.filter((line) => line.level === "error" && String(line.msg).startsWith('rule "faulty"')).map((line) => String(line.msg));
}

test("while (true) {}: the engine stops it at its compute budget; the device and the other rule go on; the rule is stopped, counted, logged with its name and line, disabled after 3", async () => {
  const t = await startRulesGateway(["s-1"], { rules: { retryDelaysMs: [100, 100] } });
  try {
    const stats = await runWithFault(t, faultyRule("while (true) {}"));
    assert.equal(stats.failures, { compute: 3 });
    assert.is(stats.events, 4, "observations 1 to 4 were handled, the 5th never finished");
    assert.match(stats.disabledReason ?? "", /disabled after 3 failures in a row/);
    const lines = faultLines(t);
    assert.is(lines.length, 3, lines.join("\n"));
    for (const line of lines) assert.match(line, /^rule "faulty" v1 failed: compute in onObservation \(faulty\.ts:7\)( on observation \d+ \(s-1 seq 5\))?: used up its compute budget/);
    // A delivery of several observations cannot say which one looped; the retries, one observation at a time, do.
    assert.match(lines[2], /on observation \d+ \(s-1 seq 5\)/);
    assert.is(t.gateway.stats().rules!.workerDeaths, 3, "the worker died each time and was started again");
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    for (const series of ['xsedge_rule_failures_total{rule="faulty"} 3', 'xsedge_rule_enabled{rule="faulty"} 0', 'xsedge_rule_enabled{rule="freezer-alarm"} 1', "xsedge_rules_worker_deaths_total 3", `xsedge_rule_events_total{rule="freezer-alarm"} ${OBSERVATIONS}`]) {
      assert.ok(metrics.includes(series), `/metrics has ${series}`);
    }
    assert.match(metrics, /xsedge_rule_lag_observations\{rule="faulty"\} \d+/);
    // Nothing of the failed event was committed: one copy per handled observation, none of seq 5.
    const copies = t.gateway.store.queries.recent(100, "s-1.copy").map((row) => row.observation.seq).sort((a, b) => a - b);
    assert.equal(copies, [1, 2, 3, 4]);
  } finally {
    await t.done();
  }
});

test("a memory blow-up: the worker's memory cap stops the engine; the same isolation", async () => {
  const t = await startRulesGateway(["s-1"], { rules: { retryDelaysMs: [100, 100] } });
  try {
    const stats = await runWithFault(t, faultyRule(`const s = "x".repeat(400_000_000);\n      ctx.state.seen += s.length;`));
    assert.equal(stats.failures, { memory: 3 }, faultLines(t).join("\n"));
    const lines = faultLines(t);
    for (const line of lines) assert.match(line, /^rule "faulty" v1 failed: memory in onObservation \(faulty\.ts:7\)( on observation \d+ \(s-1 seq 5\))?: the engine ran out of memory/, lines.join("\n"));
    assert.match(lines[2], /on observation \d+ \(s-1 seq 5\)/);
  } finally {
    await t.done();
  }
});

test("a heap that grows past the rule's memoryBytes in one delivery is a memory fault, though the engine had room", async () => {
  const t = await startRulesGateway(["s-1"], { rules: { retryDelaysMs: [100, 100] } });
  try {
    const source = faultyRule(`(globalThis as any).kept = new Array(2_000_000).fill(7);`, "\n  limits: { computePerEvent: 50_000_000, memoryBytes: 4_000_000 },");
    const stats = await runWithFault(t, source);
    assert.ok((stats.failures.memory ?? 0) >= 1, JSON.stringify(stats.failures));
    assert.match(faultLines(t)[0], /memory in onObservation \(faulty\.ts:8\) .*the engine's heap grew by [\d.]+ MiB in one delivery, over this rule's memoryBytes of 3\.8 MiB/, faultLines(t).join("\n"));
  } finally {
    await t.done();
  }
});

test("a throw: logged with the .ts line it came from; the observations before it commit (replayed one at a time), the rule is disabled after 3", async () => {
  const t = await startRulesGateway(["s-1"], { rules: { retryDelaysMs: [100, 100] } });
  try {
    const stats = await runWithFault(t, faultyRule(`throw new RangeError("seq five is cursed");`));
    assert.equal(stats.failures, { throw: 3 });
    const lines = faultLines(t);
    assert.match(lines[0], /^rule "faulty" v1 failed: throw in onObservation \(faulty\.ts:10\) on observation \d+ \(s-1 seq 5\): RangeError: seq five is cursed; stopped, retrying/);
    assert.match(lines[2], /disabled after 3 failures in a row/);
    const copies = t.gateway.store.queries.recent(100, "s-1.copy").map((row) => row.observation.seq).sort((a, b) => a - b);
    assert.equal(copies, [1, 2, 3, 4]);
    // Enabled again, it fails on the same observation: its offset did not move past it.
    assert.is((await t.post("/api/v1/rules/enable", { name: "faulty" })).status, 200);
    await waitFor("a 4th failure", () => faultLines(t).length === 4, RULE_WAIT_MS);
    assert.match(faultLines(t)[3], /\(s-1 seq 5\)/);
  } finally {
    await t.done();
  }
});

test("outputs a rule may not make: a derived observation for a registered device is an output fault, nothing of its delivery is stored", async () => {
  const t = await startRulesGateway(["s-1", "s-2"], { rules: { retryDelaysMs: [100, 100] } });
  try {
    const stats = await runWithFault(t, faultyRule(`ctx.derive({ sensorId: "s-2", readings: observation.readings });`));
    assert.equal(stats.failures, { output: 3 });
    assert.match(faultLines(t)[0], /output .*derived sensor "s-2" is a registered device/);
    assert.is(t.gateway.store.queries.recent(10, "s-2").length, 0);
  } finally {
    await t.done();
  }
});

test("a state over stateBytes is a state fault", async () => {
  const t = await startRulesGateway(["s-1"], { rules: { retryDelaysMs: [100, 100] } });
  try {
    const stats = await runWithFault(t, faultyRule(`(ctx.state as any).big = "y".repeat(5000);`, "\n  limits: { stateBytes: 1000 },"));
    assert.equal(stats.failures, { state: 3 });
    assert.match(faultLines(t)[0], /state .*the state is \d+ bytes of JSON, over this rule's stateBytes of 1000/);
  } finally {
    await t.done();
  }
});

test.run();
