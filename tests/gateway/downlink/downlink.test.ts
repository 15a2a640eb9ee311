/*
 * Messages to devices through the real gateway: requests over its HTTP API,
 * a device played with raw MQTT packets on its real broker, the requests'
 * states in its real SQLite store, across a gateway restart.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Packet } from "mqtt-packet";
import { startApiGateway, pollFor, type ApiGateway } from "../../support/gateway-api.js";
import type { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { readDownlink, writeOutcome, OutcomeStatus, type Downlink } from "../../../modules/downlink/messages.js";
import { CborWriter } from "../../../modules/observation/cbor-writer.js";
import { downlinkTopic, reportTopic } from "../../../hosts/gateway/ingest/downlink.js";
import { tempDir } from "../../support/test-helpers.js";

async function api(t: ApiGateway, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(t.base + path, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}
const stateOf = async (t: ApiGateway, id: number) => (await api(t, "GET", `/api/v1/downlinks?id=${id}`)).json.downlinks[0];

async function subscribe(client: TestMqttClient, topic: string): Promise<number> {
  const messageId = 900 + client.received.length;
  client.send({ cmd: "subscribe", messageId, subscriptions: [{ topic, qos: 1 }] });
  const suback = await client.waitFor(`SUBACK ${messageId}`, (p) => p.cmd === "suback" && p.messageId === messageId);
  return suback.cmd === "suback" ? suback.granted[0] as number : -1;
}

const downlinks = (client: TestMqttClient): Array<Packet & { cmd: "publish" }> =>
  client.received.filter((p): p is Packet & { cmd: "publish" } => p.cmd === "publish" && p.topic === downlinkTopic(client.clientId));
const messageOf = (p: Packet & { cmd: "publish" }): Downlink => readDownlink(new Uint8Array(p.payload as Buffer));

async function report(client: TestMqttClient, requestId: number, status: number, detail: string | null = null): Promise<void> {
  await client.puback(client.publish(reportTopic(client.clientId), writeOutcome(new CborWriter(128), { requestId, status: status as 0, detail }).slice()));
}

test("a request waits while the device is offline, goes out when it subscribes, and is delivered, then applied", async () => {
  const t = await startApiGateway(["dev-1"]);
  try {
    const posted = await api(t, "POST", "/api/v1/downlinks", { sensorId: "dev-1", settings: { samplePeriodMs: 5000, mode: "eco" } });
    assert.is(posted.status, 202);
    const { id } = posted.json.downlink;
    assert.equal(posted.json.downlink, { ...posted.json.downlink, sensorId: "dev-1", kind: "set", settings: { samplePeriodMs: 5000, mode: "eco" }, state: "queued", attempts: 0 });
    const device = await t.device("dev-1");
    assert.is(await subscribe(device, downlinkTopic("dev-1")), 1, "QoS 1 granted on its own downlink");
    const publish = await device.waitFor("the downlink", (p) => p.cmd === "publish");
    assert.ok(publish.cmd === "publish" && publish.qos === 1);
    assert.equal(messageOf(publish as Packet & { cmd: "publish" }), { kind: "set", requestId: id, settings: [["samplePeriodMs", 5000], ["mode", "eco"]] });
    assert.is((await stateOf(t, id)).state, "sent");
    device.send({ cmd: "puback", messageId: (publish as { messageId: number }).messageId });
    await pollFor("delivered", async () => ((await stateOf(t, id)).state === "delivered" ? true : undefined));
    await report(device, id, OutcomeStatus.APPLIED);
    const settled = await stateOf(t, id);
    assert.equal([settled.state, settled.detail, settled.attempts], ["applied", null, 1]);
    assert.ok(settled.deliveredAt >= settled.sentAt && settled.settledAt >= settled.deliveredAt);
    // The same report again (a device resending after a reconnect) changes nothing.
    await report(device, id, OutcomeStatus.REFUSED, "late");
    assert.is((await stateOf(t, id)).state, "applied");
    const stats = t.gateway.stats().downlinks!;
    assert.equal([stats.submitted, stats.sent, stats.delivered, stats.reports, stats.duplicateReports, stats.requests.applied], [1, 1, 1, 2, 1, 1]);
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    assert.match(metrics, /^xsedge_downlinks\{state="applied"\} 1$/m);
    assert.match(metrics, /^xsedge_downlinks_delivered_total 1$/m);
  } finally {
    await t.done();
  }
});

test("requests go one at a time and in order; a refusal carries the device's reason", async () => {
  const t = await startApiGateway(["dev-1"]);
  try {
    const device = await t.device("dev-1");
    await subscribe(device, downlinkTopic("dev-1"));
    const ids: number[] = [];
    for (const name of ["flush", "identify", "reboot"]) ids.push((await api(t, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: name })).json.downlink.id);
    assert.ok(ids[0] < ids[1] && ids[1] < ids[2], "ids grow");
    for (let i = 0; i < 3; i++) {
      const publish = await device.waitFor(`downlink ${i + 1}`, () => downlinks(device).length === i + 1);
      void publish;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.is(downlinks(device).length, i + 1, "the next waits for this one's PUBACK");
      const current = downlinks(device)[i];
      assert.is(messageOf(current).requestId, ids[i]);
      device.send({ cmd: "puback", messageId: current.messageId! });
    }
    await report(device, ids[2], OutcomeStatus.REFUSED, "this board cannot restart from JavaScript");
    assert.equal([(await stateOf(t, ids[2])).state, (await stateOf(t, ids[2])).detail], ["refused", "this board cannot restart from JavaScript"]);
    await report(device, ids[1], OutcomeStatus.STALE, "request 99 or a newer one was applied already");
    assert.is((await stateOf(t, ids[1])).state, "stale");
    const listed = (await api(t, "GET", "/api/v1/downlinks?sensorId=dev-1")).json.downlinks.map((d: { id: number; state: string }) => [d.id, d.state]);
    assert.equal(listed, [[ids[2], "refused"], [ids[1], "stale"], [ids[0], "delivered"]]);
  } finally {
    await t.done();
  }
});

test("a request whose PUBACK never came is sent again on the next session, and the queue survives a gateway restart", async () => {
  const dir = tempDir("downlink-restart");
  let t = await startApiGateway(["dev-1"], { dataDir: dir.path });
  try {
    const { id } = (await api(t, "POST", "/api/v1/downlinks", { sensorId: "dev-1", settings: { gain: 3 } })).json.downlink;
    let device = await t.device("dev-1");
    await subscribe(device, downlinkTopic("dev-1"));
    await device.waitFor("the downlink", () => downlinks(device).length === 1);
    await device.end(); // gone before its PUBACK
    await pollFor("queued again", async () => ((await stateOf(t, id)).state === "queued" ? true : undefined));
    const queued = (await api(t, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: "flush" })).json.downlink.id;
    await t.done();
    t = await startApiGateway(["dev-1"], { dataDir: dir.path });
    assert.equal([(await stateOf(t, id)).state, (await stateOf(t, queued)).state], ["queued", "queued"], "kept in downlinks.db");
    device = await t.device("dev-1");
    await subscribe(device, downlinkTopic("dev-1"));
    await device.waitFor("the first again", () => downlinks(device).length === 1);
    assert.is(messageOf(downlinks(device)[0]).requestId, id, "the same request id: the device drops a copy it applied");
    device.send({ cmd: "puback", messageId: downlinks(device)[0].messageId! });
    await device.waitFor("then the second", () => downlinks(device).length === 2);
    assert.is(messageOf(downlinks(device)[1]).requestId, queued);
    assert.is((await stateOf(t, id)).attempts, 2);
    const fresh = (await api(t, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: "identify" })).json.downlink.id;
    assert.ok(fresh > queued, "ids keep growing after a restart");
  } finally {
    await t.done();
    dir.remove();
  }
});

test("a device reads only its own downlink and reports only on its own topic", async () => {
  const t = await startApiGateway(["dev-1", "dev-2"]);
  try {
    const one = await t.device("dev-1");
    const two = await t.device("dev-2");
    assert.is(await subscribe(one, downlinkTopic("dev-2")), 0x80, "not another device's");
    assert.is(await subscribe(one, "xsedge/v1/+/down"), 0x80, "no wildcards");
    assert.is(await subscribe(one, "xsedge/v1/dev-1/up"), 0x80, "no observations");
    await subscribe(two, downlinkTopic("dev-2"));
    const { id } = (await api(t, "POST", "/api/v1/downlinks", { sensorId: "dev-2", command: "flush" })).json.downlink;
    await two.waitFor("dev-2's message", () => downlinks(two).length === 1);
    assert.is(one.received.filter((p) => p.cmd === "publish").length, 0, "dev-1 sees nothing of it");
    // dev-1 tries to settle dev-2's request: on dev-2's topic, then on its own.
    await one.puback(one.publish(reportTopic("dev-2"), writeOutcome(new CborWriter(128), { requestId: id, status: OutcomeStatus.APPLIED, detail: null }).slice()));
    await report(one, id, OutcomeStatus.APPLIED);
    assert.is((await stateOf(t, id)).state, "sent", "neither settled it");
    assert.is(t.gateway.stats().downlinks!.refusedReports["not-this-sensor"], 1);
    // Another's report topic is no topic of dev-1's: refused like any foreign topic (quarantined, acknowledged), and logged.
    assert.ok(t.logger.lines.some((l) => /refused publish from dev-1: bad-topic/.test(String(l.msg))), "the foreign topic is logged");
  } finally {
    await t.done();
  }
});

test("bad reports are counted, logged at most once a while, acknowledged, and change nothing", async () => {
  const t = await startApiGateway(["dev-1"]);
  try {
    const device = await t.device("dev-1");
    await device.puback(device.publish(reportTopic("dev-1"), new Uint8Array([0xff, 0x01])));
    await report(device, 12345, OutcomeStatus.APPLIED);
    // An honest device reports once per request; a flood is cut at REPORT_RATE.
    for (let i = 0; i < 30; i++) await report(device, 12345, OutcomeStatus.APPLIED);
    const refused = t.gateway.stats().downlinks!.refusedReports;
    assert.is(refused.malformed, 1);
    assert.ok(refused["rate-limited"] >= 30 - 20, `rate-limited ${refused["rate-limited"]}`);
    assert.is(refused["unknown-request"] + refused["rate-limited"] + refused.malformed, 32);
    const lines = t.logger.lines.filter((l) => String(l.msg).includes("report from dev-1 refused"));
    assert.ok(lines.length >= 2 && lines.length <= 4, `one line per reason, then throttled: ${lines.length}`);
    assert.ok(device.connected, "refusals do not cost the device its connection");
  } finally {
    await t.done();
  }
});

test.run();
