/*
 * The README's four worked examples (examples/rules/), each deployed through
 * the local API into a real gateway (tsc, rollup, the XS engine, SQLite),
 * fed by devices over real MQTT, checked by what the store, the cloud and
 * the alert sinks got.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { anchorPayload, WALL } from "../../support/gateway-records.js";
import { exampleSource, RULE_WAIT_MS, startRulesGateway } from "../../support/rules-gateway.js";
import { waitFor } from "../../support/test-helpers.js";
import { dewPoint } from "../../../examples/rules/dew-point.js";

const temperature = (value: number) => ({ quantity: "temperature" as const, value });
const humidity = (value: number) => ({ quantity: "humidity" as const, value });

/** A webhook on loopback that takes every alert and keeps its body and Idempotency-Key. */
async function webhook(): Promise<{ url: string; received: { key: string; body: any }[]; close(): Promise<void> }> {
  const received: { key: string; body: any }[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    received.push({ key: String(req.headers["idempotency-key"]), body: JSON.parse(text) });
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/alerts`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test("dew point: a <sensor>.dewpoint virtual sensor for every temperature and humidity sample, stored and relayed", async () => {
  const t = await startRulesGateway(["room-1"]);
  try {
    const deployed = await t.deploy(exampleSource("dew-point"), "dew-point.ts");
    assert.is(deployed.status, 201, JSON.stringify(deployed.body));
    const device = await t.device("room-1");
    const samples = [[20, 50], [25.5, 61.2], [-3, 80], [30, 35]];
    for (const [i, [c, rh]] of samples.entries()) await t.publish(device, i + 1, [temperature(c), humidity(rh)]);
    await t.publish(device, 5, [temperature(21)]);
    await t.caughtUp("dew-point");
    const derived = t.gateway.store.queries.recent(10, "room-1.dewpoint").reverse();
    assert.equal(derived.map((row) => row.observation.seq), [1, 2, 3, 4], "one derived observation per sample with humidity, numbered 1, 2, ...");
    samples.forEach(([c, rh], i) => {
      assert.is(derived[i].observation.readings[0].value, Math.round(dewPoint(c, rh) * 100) / 100, `dew point of ${c} °C at ${rh} %`);
    });
    await waitFor("the dew points at the cloud", () => t.cloud.batches.flat().filter((o) => o.sensorId === "room-1.dewpoint").length === 4, RULE_WAIT_MS);
    const stats = await t.rule("dew-point");
    assert.is(stats.events, 4, "the sample without humidity is not selected");
    assert.is(stats.derived, 4);
  } finally {
    await t.done();
  }
});

test("five-minute averages: raw samples stay at the gateway, the cloud gets one mean per window", async () => {
  const t = await startRulesGateway(["greenhouse-1", "office-1"], { rules: { verdictWaitMs: RULE_WAIT_MS } });
  try {
    assert.is((await t.deploy(exampleSource("five-minute-average"), "five-minute-average.ts")).status, 201);
    const greenhouse = await t.device("greenhouse-1");
    const office = await t.device("office-1");
    // The device's clock, anchored: window boundaries fall on its wall time.
    const start = WALL - (WALL % 300_000);
    await greenhouse.puback(greenhouse.publish(uplinkTopic("greenhouse-1"), anchorPayload("greenhouse-1", 1, 0, start)));
    // 12 minutes of samples every 30 s: windows [0, 5), [5, 10), [10, ...) minutes.
    for (let i = 0; i < 24; i++) await t.publish(greenhouse, i + 1, [temperature(20 + (i % 10))], i * 30_000);
    await t.publish(office, 1, [temperature(22)]);
    await t.caughtUp("five-minute-average");
    const averages = t.gateway.store.queries.recent(10, "greenhouse-1.avg5m").reverse();
    // Window 1: samples 0..9 → 20..29, mean 24.5; window 2: the same again.
    assert.equal(averages.map((row) => row.observation.readings[0].value), [24.5, 24.5]);
    assert.equal(averages.map((row) => row.observation.time), [start + 300_000, start + 600_000]);
    await waitFor("the office sample and both means at the cloud", () => {
      const sent = t.cloud.batches.flat();
      return sent.filter((o) => o.sensorId === "greenhouse-1.avg5m").length === 2 && sent.some((o) => o.sensorId === "office-1");
    }, RULE_WAIT_MS);
    const sent = t.cloud.batches.flat();
    assert.is(sent.filter((o) => o.sensorId === "greenhouse-1").length, 0, "no raw greenhouse sample was relayed");
    assert.is(t.gateway.store.queries.recent(100, "greenhouse-1").length, 24, "every raw sample is kept at the gateway");
    assert.is(t.gateway.store.unrelayedCount(), 0, "kept samples left the outbox");
    const stats = await t.rule("five-minute-average");
    assert.is(stats.keptLocal, 24);
    // Its trace, in the gateway's log under the rule's name.
    const traced = t.logger.lines.filter((l) => l.component === "gateway/rules/rule/five-minute-average").map((l) => l.msg);
    assert.equal(traced, [
      `greenhouse-1 window ${new Date(start).toISOString()}: 10 samples, min 20, max 29`,
      `greenhouse-1 window ${new Date(start + 300_000).toISOString()}: 10 samples, min 20, max 29`,
    ]);
    assert.is(t.gateway.stats().rules!.verdictTimeouts, 0);
  } finally {
    await t.done();
  }
});

test("silence alert: raised for a sensor quiet for 10 minutes, cleared by its next observation, each change at the webhook and on the SSE stream once", async () => {
  const clock = { now: Date.now() };
  const hook = await webhook();
  const t = await startRulesGateway(["s-1", "s-2"], { now: () => clock.now, rules: { alerts: { webhook: { url: hook.url } } } });
  try {
    assert.is((await t.deploy(exampleSource("silence-alert"), "silence-alert.ts")).status, 201);
    const s1 = await t.device("s-1");
    const s2 = await t.device("s-2");
    await t.publish(s1, 1, [temperature(20)]);
    await t.publish(s2, 1, [temperature(20)]);
    await t.caughtUp("silence-alert");
    clock.now += 11 * 60_000;
    // s-2 speaks again 11 minutes on: by then both timers were due; s-1 stays silent.
    await t.publish(s2, 2, [temperature(20)]);
    await t.caughtUp("silence-alert");
    clock.now += 60_000;
    await t.publish(s1, 2, [temperature(20)]);
    await t.caughtUp("silence-alert");
    const expected = [["silent:s-1", "raised"], ["silent:s-2", "raised"], ["silent:s-2", "cleared"], ["silent:s-1", "cleared"]];
    const alerts = (await t.get("/api/v1/rules/alerts?after=0")).body.alerts as { key: string; state: string; idempotencyKey: string }[];
    assert.equal(alerts.map((a) => [a.key, a.state]), expected);
    await waitFor("the webhook to get all four", () => hook.received.length >= 4, RULE_WAIT_MS);
    assert.equal(hook.received.map((r) => [r.body.key, r.body.state]), expected);
    assert.equal(hook.received.map((r) => r.key), alerts.map((a) => a.idempotencyKey), "each with its idempotency key");
    assert.equal(new Set(hook.received.map((r) => r.key)).size, 4, "four distinct keys");
  } finally {
    await t.done();
    await hook.close();
  }
});

test("freezer alarm: one alert above -15 °C, cleared only below -18 °C (hysteresis), none repeated", async () => {
  const hook = await webhook();
  const t = await startRulesGateway(["freezer-1", "fridge-1"], { rules: { alerts: { webhook: { url: hook.url } } } });
  try {
    assert.is((await t.deploy(exampleSource("freezer-alarm"), "freezer-alarm.ts")).status, 201);
    const freezer = await t.device("freezer-1");
    const fridge = await t.device("fridge-1");
    const readings = [-20, -19, -14.5, -13, -15.5, -16, -17.9, -18.5, -19, -14];
    for (const [i, value] of readings.entries()) await t.publish(freezer, i + 1, [temperature(value)]);
    await t.publish(fridge, 1, [temperature(4)]);
    await t.caughtUp("freezer-alarm");
    await waitFor("three alert changes at the webhook", () => hook.received.length >= 3, RULE_WAIT_MS);
    assert.equal(hook.received.map((r) => [r.body.state, r.body.data.temperature, r.body.severity]), [
      ["raised", -14.5, "critical"],
      ["cleared", -18.5, "info"],
      ["raised", -14, "critical"],
    ]);
    assert.equal(hook.received.map((r) => r.key), ["freezer-alarm/1/warm:freezer-1", "freezer-alarm/2/warm:freezer-1", "freezer-alarm/3/warm:freezer-1"]);
    const stats = await t.rule("freezer-alarm");
    assert.is(stats.events, readings.length, "the fridge is not selected");
    assert.is(stats.alerts, 3);
  } finally {
    await t.done();
    await hook.close();
  }
});

test.run();
