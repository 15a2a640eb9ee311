/*
 * Deploying rules through the local API: hot reload with draining under
 * load (nothing lost or derived twice), versions that fail to type-check,
 * to load or their self-test (the running version stays), rollback and the
 * version history, disable and enable, and a restart that resumes a rule
 * after its last committed observation with its state.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FloodingDevice } from "../../support/flooding-device.js";
import { RULE_WAIT_MS, startRulesGateway, type RulesGateway } from "../../support/rules-gateway.js";
import { tempDir, waitFor } from "../../support/test-helpers.js";

/** One gateway for the tests that need no restart: each uses a rule and a sensor of its own. */
let shared: RulesGateway;

test.before(async () => {
  shared = await startRulesGateway(["s-1", "s-2", "s-3", "s-4", "s-5", "s-6"]);
});

test.after(async () => {
  await shared.done();
});

/** Version `v` of rule `name` on `sensor`: derives "<sensor>.twin" = seq + v / 10, and counts what it saw in its state. */
function twinOf(v: number, extra = "", name = "twin", sensor = "s-*"): string {
  return `import { defineRule } from "xsedge/rules";
export default defineRule({
  name: "${name}",
  select: { sensors: "${sensor}" },
  start: "stored",
  initialState: () => ({ seen: 0 }),
  onObservation(observation, ctx) {
    ctx.state.seen++;
    ctx.derive({ sensorId: observation.sensorId + ".twin", readings: [{ quantity: "temperature", value: observation.seq + ${v} / 10 }] });
  },${extra}
});
`;
}

/** Derived twins by source seq: the versions that derived each. */
function twins(t: RulesGateway, sensorId: string): Map<number, number[]> {
  const bySeq = new Map<number, number[]>();
  for (const row of t.gateway.store.queries.recent(100_000, `${sensorId}.twin`)) {
    const value = row.observation.readings[0].value;
    const seq = Math.floor(value);
    bySeq.set(seq, [...(bySeq.get(seq) ?? []), Math.round((value - seq) * 10)]);
  }
  return bySeq;
}

test("a deploy under load hands over at the next offset: the old version finishes what it holds, nothing is lost or derived twice", async () => {
  const t = shared;
  const device = new FloodingDevice("s-1", 16);
  const twin = (v: number) => twinOf(v, "", "twin-load", "s-1");
  try {
    assert.is((await t.deploy(twin(1), "twin.ts")).status, 201);
    await device.connect(t.gateway.mqttPort!);
    await waitFor("some acknowledgements", () => device.acked.size > 200, RULE_WAIT_MS);
    const deployed = await t.deploy(twin(2), "twin.ts");
    assert.is(deployed.status, 201, JSON.stringify(deployed.body));
    assert.equal([deployed.body.version, deployed.body.previousVersion], [2, 1]);
    const acked = device.acked.size;
    await waitFor("more acknowledgements", () => device.acked.size > acked + 200, RULE_WAIT_MS);
    device.stop();
    await waitFor("the last acknowledgements", () => device.unacked.size === 0, RULE_WAIT_MS);
    await t.caughtUp("twin-load");
    const derived = twins(t, "s-1");
    for (const seq of device.acked) assert.is(derived.get(seq)?.length, 1, `seq ${seq}: derived ${derived.get(seq)?.length ?? 0} times`);
    assert.is(derived.size, device.acked.size);
    // Version 1 up to the hand-over, version 2 after it: by store id, one switch.
    const handedOverAt = deployed.body.handedOverAt as number;
    for (const row of t.gateway.store.queries.recent(100_000, "s-1.twin")) {
      const seq = Math.floor(row.observation.readings[0].value);
      const source = t.gateway.store.find("s-1", seq)!;
      const version = derived.get(seq)![0];
      assert.is(version, source.id <= handedOverAt ? 1 : 2, `seq ${seq} (id ${source.id}, hand-over after ${handedOverAt}) by version ${version}`);
    }
    const stats = await t.rule("twin-load");
    assert.is(stats.version, 2);
    assert.is(JSON.parse(t.gateway.store.rules.get("twin-load")!.state!).s.seen, device.acked.size, "the state carried over: the new version counted on from the old one's count");
  } finally {
    await device.end();
  }
});

test("a version that does not type-check is refused with its diagnostics; the running version goes on", async () => {
  const t = shared;
  const twin = (v: number) => twinOf(v, "", "twin-tc", "s-2");
  {
    assert.is((await t.deploy(twin(1), "twin.ts")).status, 201);
    const broken = twin(2).replace("ctx.state.seen++;", 'const n: number = "x";\n    ctx.state.seen++;').replace('import { defineRule }', 'import { readFileSync } from "node:fs";\nimport { defineRule }');
    const refused = await t.deploy(broken, "twin.ts");
    assert.is(refused.status, 400);
    assert.match(refused.body.error, /^the rule does not type-check: twin\.ts:1:/);
    const codes = (refused.body.diagnostics as { code: string; line: number }[]).map((d) => [d.code, d.line]);
    assert.equal(codes, [["TS2591", 1], ["TS2322", 9]], "node:fs does not exist for a rule; the type error names its line");
    const device = await t.device("s-2");
    await t.publish(device, 1, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin-tc");
    assert.equal(twins(t, "s-2").get(1), [1], "version 1 still derives");
    assert.is((await t.rule("twin-tc")).version, 1);
  }
});

test("a version that fails to load, or fails its self-test, is refused with the line at fault; the running version goes on", async () => {
  const t = shared;
  const twin = (v: number, extra = "") => twinOf(v, extra, "twin-lt", "s-3");
  {
    assert.is((await t.deploy(twin(1), "twin.ts")).status, 201);
    const throwsAtLoad = twin(2).replace("export default", 'if ((1 as number) === 1) throw new Error("not today");\nexport default');
    const atLoad = await t.deploy(throwsAtLoad, "twin.ts");
    assert.is(atLoad.status, 422);
    assert.match(atLoad.body.error, /^the rule failed to load: throw in module \(twin\.ts:2\): Error: not today/);
    const failsTest = twin(2, `
  selfTest(test) {
    const out = test.observe({ sensorId: "s-1", readings: [{ quantity: "temperature", value: 1 }] });
    test.check(out.derived.length === 2, "derives two");
  },`);
    const atTest = await t.deploy(failsTest, "twin.ts");
    assert.is(atTest.status, 422);
    assert.match(atTest.body.error, /^the rule failed its self-test: self-test in selfTest \(twin\.ts:13\): SelfTestFailure: self-test check failed: derives two/);
    const loops = twin(2, `
  selfTest() {
    for (;;) {}
  },`);
    const looping = await t.deploy(loops, "twin.ts");
    assert.is(looping.status, 422);
    assert.match(looping.body.error, /compute in selfTest \(twin\.ts:11\)/);
    const device = await t.device("s-3");
    await t.publish(device, 1, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin-lt");
    assert.equal(twins(t, "s-3").get(1), [1]);
    const stats = await t.rule("twin-lt");
    assert.equal([stats.version, stats.failuresTotal], [1, 0], "the running version never noticed");
    assert.equal((await t.get("/api/v1/rules/detail?name=twin-lt")).body.versions.map((v: { version: number }) => v.version), [1], "refused versions are not in the history");
  }
});

test("rollback: the previous version runs again as a new version (same hash), at the next offset; the history lists every version", async () => {
  const t = shared;
  const twin = (v: number) => twinOf(v, "", "twin-rb", "s-4");
  {
    const first = await t.deploy(twin(1), "twin.ts");
    const device = await t.device("s-4");
    await t.publish(device, 1, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin-rb");
    assert.is((await t.deploy(twin(2), "twin.ts")).status, 201);
    assert.is((await t.deploy(twin(2), "twin.ts")).status, 200, "the same source again: unchanged");
    await t.publish(device, 2, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin-rb");
    const rolled = await t.post("/api/v1/rules/rollback", { name: "twin-rb" });
    assert.is(rolled.status, 201, JSON.stringify(rolled.body));
    assert.equal([rolled.body.version, rolled.body.previousVersion, rolled.body.hash], [3, 2, first.body.hash]);
    await t.publish(device, 3, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin-rb");
    const derived = twins(t, "s-4");
    assert.equal([derived.get(1), derived.get(2), derived.get(3)], [[1], [2], [1]]);
    const detail = (await t.get("/api/v1/rules/detail?name=twin-rb")).body;
    assert.equal(detail.versions.map((v: any) => [v.version, v.status, v.detail]), [
      [3, "active", "rollback to version 1"],
      [2, "superseded", null],
      [1, "superseded", null],
    ]);
    for (const v of detail.versions) {
      assert.match(v.hash, /^[0-9a-f]{64}$/);
      assert.ok(v.deployedAt > 0);
    }
    assert.is(detail.source, twin(1));
    assert.is((await t.post("/api/v1/rules/rollback", { name: "twin-rb", version: 3 })).status, 409, "the active version");
    assert.is((await t.post("/api/v1/rules/rollback", { name: "twin-rb", version: 9 })).status, 404);
    assert.is((await t.post("/api/v1/rules/rollback", { name: "nope" })).status, 404);
  }
});

test("disable stops a rule where it is; enable resumes it after that offset: nothing lost, its lag shown meanwhile", async () => {
  const t = shared;
  {
    assert.is((await t.deploy(twinOf(1, "", "twin-de", "s-5"), "twin.ts")).status, 201);
    const device = await t.device("s-5");
    await t.publish(device, 1, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin-de");
    const disabled = await t.post("/api/v1/rules/disable", { name: "twin-de" });
    assert.equal([disabled.status, disabled.body.rule.status, disabled.body.rule.disabledReason], [200, "disabled", "disabled by an operator"]);
    for (let seq = 2; seq <= 6; seq++) await t.publish(device, seq, [{ quantity: "temperature", value: 1 }]);
    const lagging = await t.rule("twin-de");
    assert.ok(lagging.lagObservations >= 5, `lag ${lagging.lagObservations}`);
    assert.ok(lagging.lagMs >= 0);
    assert.is(twins(t, "s-5").size, 1);
    assert.is((await t.post("/api/v1/rules/enable", { name: "twin-de" })).status, 200);
    await t.caughtUp("twin-de");
    assert.equal([...twins(t, "s-5").keys()].sort(), [1, 2, 3, 4, 5, 6]);
  }
});

test("after a restart a rule resumes after its last committed observation, with its state", async () => {
  const dir = tempDir("rules-restart");
  try {
    let t = await startRulesGateway(["s-1"], {}, dir.path);
    assert.is((await t.deploy(twinOf(1), "twin.ts")).status, 201);
    let device = await t.device("s-1");
    for (let seq = 1; seq <= 3; seq++) await t.publish(device, seq, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin");
    await t.done();
    t = await startRulesGateway(["s-1"], {}, dir.path);
    device = await t.device("s-1");
    for (let seq = 4; seq <= 5; seq++) await t.publish(device, seq, [{ quantity: "temperature", value: 1 }]);
    await t.caughtUp("twin");
    assert.equal([...twins(t, "s-1").entries()].sort((a, b) => a[0] - b[0]), [[1, [1]], [2, [1]], [3, [1]], [4, [1]], [5, [1]]]);
    const state = JSON.parse(t.gateway.store.rules.get("twin")!.state!);
    assert.is(state.s.seen, 5, "the count went on from 3");
    await t.done();
  } finally {
    dir.remove();
  }
});

test("the rule routes refuse what they cannot do: a bad name, an unknown rule, a second deploy while one runs, an oversized source", async () => {
  const t = shared;
  {
    assert.is((await t.get("/api/v1/rules/detail?name=Bad_Name")).status, 400);
    assert.is((await t.get("/api/v1/rules/detail?name=nothing")).status, 404);
    assert.is((await t.post("/api/v1/rules/disable", { name: "nothing" })).status, 404);
    assert.is((await t.post("/api/v1/rules", { source: 42 })).status, 400);
    assert.is((await t.post("/api/v1/rules", { source: "x", extra: 1 })).status, 400);
    assert.is((await t.post("/api/v1/rules", { source: "x", file: "../etc/passwd.ts" })).status, 400);
    const huge = await t.post("/api/v1/rules", { source: "x".repeat(300 * 1024) });
    assert.is(huge.status, 400);
    assert.match(huge.body.error, /over the 262144-byte limit/);
    const [a, b] = await Promise.all([t.deploy(twinOf(1, "", "twin-busy", "s-6"), "twin.ts"), t.deploy(twinOf(2, "", "twin-busy", "s-6"), "twin.ts")]);
    assert.equal([a.status, b.status].sort(), [201, 409]);
  }
});

test.run();
