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
import type { RuleStats } from "../../../hosts/gateway/rules/rule-engine.js";
import { waitFor } from "../../support/test-helpers.js";

const OBSERVATIONS = 40;
/** The healthy neighbour: the freezer alarm, watching every sensor of the file. */
const neighbour = exampleSource("freezer-alarm").replace('sensors: "freezer-*"', 'sensors: "s-*"');
const SENSORS = ["s-1", "s-2", "s-3", "s-4", "s-5", "s-6"];

/** One gateway for the file, the neighbour deployed once: each test adds its own faulty rule on a sensor of its own. */
let t: RulesGateway;
let next = 0;

test.before(async () => {
  t = await startRulesGateway(SENSORS, { rules: { retryDelaysMs: [100, 100] } });
  assert.is((await t.deploy(neighbour, "freezer-alarm.ts")).status, 201);
});

test.after(async () => {
  await t.done();
});

function faultyRule(name: string, sensor: string, body: string, extra = ""): string {
  return `import { defineRule } from "xsedge/rules";

export default defineRule({
  name: "${name}",
  select: { sensors: "${sensor}" },${extra}
  initialState: () => ({ seen: 0 }),
  onObservation(observation, ctx) {
    ctx.state.seen++;
    if (observation.seq === 5) {
      ${body}
    }
    ctx.derive({ sensorId: "${sensor}.copy", readings: observation.readings });
  },
});
`;
}

interface Run {
  name: string;
  sensor: string;
  stats: RuleStats;
  lines: string[];
  deaths: number;
}

/** Deploys a faulty rule on a sensor of its own, publishes OBSERVATIONS while it fails, and returns its figures once it is disabled. */
async function runWithFault(body: string, extra = ""): Promise<Run> {
  next++;
  const name = `faulty-${next}`;
  const sensor = SENSORS[next - 1];
  const before = await t.rule("freezer-alarm");
  const deathsBefore = t.gateway.stats().rules!.workerDeaths;
  const deployed = await t.deploy(faultyRule(name, sensor, body, extra), `${name}.ts`);
  assert.is(deployed.status, 201, JSON.stringify(deployed.body));
  const device = await t.device(sensor);
  let acknowledged = 0;
  for (let seq = 1; seq <= OBSERVATIONS; seq++) {
    await t.publish(device, seq, [{ quantity: "temperature", value: seq % 2 === 0 ? -20 : -10 }]);
    acknowledged++;
  }
  assert.is(acknowledged, OBSERVATIONS, "every publish was acknowledged");
  const healthy = await t.caughtUp("freezer-alarm");
  assert.is(healthy.events - before.events, OBSERVATIONS, "the healthy rule handled every observation");
  assert.is(healthy.failuresTotal, 0, JSON.stringify(healthy.lastError));
  assert.is(healthy.alerts - before.alerts, OBSERVATIONS, "and raised and cleared on each (its alerts flip every sample)");
  const deadline = Date.now() + RULE_WAIT_MS;
  for (;;) {
    const stats = await t.rule(name);
    if (stats.status === "disabled") {
      const lines = t.logger.lines.filter((l) => l.level === "error" && String(l.msg).startsWith(`rule "${name}"`)).map((l) => String(l.msg));
      return { name, sensor, stats, lines, deaths: t.gateway.stats().rules!.workerDeaths - deathsBefore };
    }
    if (Date.now() > deadline) throw new Error(`${name} not disabled: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The seqs of the copies the rule committed, once every delivery it finished is committed: rules' outputs
 * commit up to COMMIT_INTERVAL_MS after their delivery, so a rule may be disabled before its last ones land.
 */
async function copies(sensor: string): Promise<number[]> {
  await waitFor("the rules' queued commits", () => t.gateway.stats().rules!.queuedEvents === 0, RULE_WAIT_MS);
  return t.gateway.store.queries.recent(100, `${sensor}.copy`).map((row) => row.observation.seq).sort((a, b) => a - b);
}

test("while (true) {}: the engine stops it at its compute budget; the device and the other rule go on; the rule is stopped, counted, logged with its name and line, disabled after 3", async () => {
  const { name, sensor, stats, lines, deaths } = await runWithFault("while (true) {}");
  assert.equal(stats.failures, { compute: 3 });
  assert.is(stats.events, 4, "observations 1 to 4 were handled, the 5th never finished");
  assert.match(stats.disabledReason ?? "", /disabled after 3 failures in a row/);
  assert.is(lines.length, 3, lines.join("\n"));
  for (const line of lines) assert.match(line, new RegExp(`^rule "${name}" v1 failed: compute in onObservation \\(${name}\\.ts:7\\)( on observation \\d+ \\(${sensor} seq 5\\))?: used up its compute budget`));
  // A delivery of several observations cannot say which one looped; the retries, one observation at a time, do.
  assert.match(lines[2], new RegExp(`on observation \\d+ \\(${sensor} seq 5\\)`));
  assert.is(deaths, 3, "the worker died each time and was started again");
  const metrics = await (await fetch(`${t.base}/metrics`)).text();
  for (const series of [`xsedge_rule_failures_total{rule="${name}"} 3`, `xsedge_rule_enabled{rule="${name}"} 0`, 'xsedge_rule_enabled{rule="freezer-alarm"} 1', 'xsedge_rule_failures_total{rule="freezer-alarm"} 0']) {
    assert.ok(metrics.includes(series), `/metrics has ${series}`);
  }
  assert.match(metrics, new RegExp(`xsedge_rule_lag_observations\\{rule="${name}"\\} \\d+`));
  assert.match(metrics, /xsedge_rules_worker_deaths_total [1-9]/);
  // Nothing of the failed event was committed: one copy per handled observation, none of seq 5.
  assert.equal(await copies(sensor), [1, 2, 3, 4]);
});

test("a memory blow-up: the worker's memory cap stops the engine; the same isolation", async () => {
  const { name, sensor, stats, lines } = await runWithFault(`const s = "x".repeat(400_000_000);\n      ctx.state.seen += s.length;`);
  assert.equal(stats.failures, { memory: 3 }, lines.join("\n"));
  for (const line of lines) assert.match(line, new RegExp(`^rule "${name}" v1 failed: memory in onObservation \\(${name}\\.ts:7\\)( on observation \\d+ \\(${sensor} seq 5\\))?: the engine ran out of memory`), lines.join("\n"));
  assert.match(lines[2], new RegExp(`on observation \\d+ \\(${sensor} seq 5\\)`));
  assert.equal(await copies(sensor), [1, 2, 3, 4]);
});

test("a heap that grows past the rule's memoryBytes in one delivery is a memory fault, though the engine had room", async () => {
  const { name, stats, lines } = await runWithFault(`(globalThis as any).kept = new Array(2_000_000).fill(7);`, "\n  limits: { computePerEvent: 50_000_000, memoryBytes: 4_000_000 },");
  assert.ok((stats.failures.memory ?? 0) >= 1, JSON.stringify(stats.failures));
  assert.match(lines[0], new RegExp(`memory in onObservation \\(${name}\\.ts:8\\)( on observation \\d+ \\([^)]*\\))?: the engine's heap grew by [\\d.]+ MiB in one delivery, over this rule's memoryBytes of 3\\.8 MiB`), lines.join("\n"));
});

test("a throw: logged with the .ts line it came from; the observations before it commit (replayed one at a time), the rule is disabled after 3", async () => {
  const { name, sensor, stats, lines } = await runWithFault(`throw new RangeError("seq five is cursed");`);
  assert.equal(stats.failures, { throw: 3 });
  assert.match(lines[0], new RegExp(`^rule "${name}" v1 failed: throw in onObservation \\(${name}\\.ts:10\\) on observation \\d+ \\(${sensor} seq 5\\): RangeError: seq five is cursed; stopped, retrying`));
  assert.match(lines[2], /disabled after 3 failures in a row/);
  assert.equal(await copies(sensor), [1, 2, 3, 4]);
  // Enabled again, it fails on the same observation: its offset did not move past it.
  assert.is((await t.post("/api/v1/rules/enable", { name })).status, 200);
  const fourth = () => t.logger.lines.filter((l) => l.level === "error" && String(l.msg).startsWith(`rule "${name}"`)).map((l) => String(l.msg));
  await waitFor("a 4th failure", () => fourth().length === 4, RULE_WAIT_MS);
  assert.match(fourth()[3], new RegExp(`\\(${sensor} seq 5\\)`));
});

test("outputs a rule may not make: a derived observation for a registered device is an output fault, nothing of its delivery is stored", async () => {
  const { stats, lines } = await runWithFault(`ctx.derive({ sensorId: "s-6", readings: observation.readings });`);
  assert.equal(stats.failures, { output: 3 });
  assert.match(lines[0], /output .*derived sensor "s-6" is a registered device/);
  assert.is(t.gateway.store.queries.recent(10, "s-6").filter((row) => row.observation.boot === 0).length, 0);
});

test("a state over stateBytes is a state fault", async () => {
  const { stats, lines } = await runWithFault(`(ctx.state as any).big = "y".repeat(5000);`, "\n  limits: { stateBytes: 1000 },");
  assert.equal(stats.failures, { state: 3 });
  assert.match(lines[0], /state .*the state is \d+ bytes of JSON, over this rule's stateBytes of 1000/);
});

test.run();
