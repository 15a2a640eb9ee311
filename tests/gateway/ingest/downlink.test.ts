/*
 * The downlink transport (hosts/gateway/ingest/downlink.ts) through real
 * MQTT clients: raw packets (mqtt-packet) to see each byte's turn, and
 * MQTT.js as a device library would use it. A device may subscribe only to
 * its own downlink topic and publish only on its own uplink and report
 * topics.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mqttJs from "mqtt";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { downlinkTopic, reportTopic } from "../../../hosts/gateway/ingest/downlink.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const secretOf = (sensorId: string) => `secret-of-${sensorId}`;
const login = (sensorId: string) => ({ username: sensorId, password: secretOf(sensorId) });

async function withGateway(run: (gateway: Gateway) => Promise<void>): Promise<void> {
  const dir = tempDir("downlink");
  const registry = new StaticRegistry(["s-1", "s-2"].map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({ mqttPort: 0, httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), registry });
  try {
    await run(gateway);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

async function subscribed(gateway: Gateway, sensorId: string): Promise<TestMqttClient> {
  const device = await TestMqttClient.connect(gateway.mqttPort!, sensorId, login(sensorId));
  device.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: downlinkTopic(sensorId), qos: 1 }] });
  const suback = await device.waitFor("SUBACK", (p) => p.cmd === "suback");
  assert.equal(suback.cmd === "suback" && suback.granted, [1]);
  return device;
}

test("a device may subscribe to its own downlink topic only: anything else gets SUBACK 0x80, counted", async () => {
  await withGateway(async (gateway) => {
    const ready: string[] = [];
    gateway.downlink!.onReady((sensorId) => ready.push(sensorId));
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
    assert.not.ok(gateway.downlink!.isReady("s-1"));
    device.send({ cmd: "subscribe", messageId: 4, subscriptions: [
      { topic: downlinkTopic("s-2"), qos: 1 }, { topic: "xsedge/v1/+/down", qos: 1 }, { topic: downlinkTopic("s-1"), qos: 2 }, { topic: "#", qos: 0 },
    ] });
    const suback = await device.waitFor("SUBACK", (p) => p.cmd === "suback");
    assert.equal(suback.cmd === "suback" && suback.granted, [0x80, 0x80, 1, 0x80], "its own topic at QoS 1 at most");
    assert.ok(gateway.downlink!.isReady("s-1"));
    assert.equal(ready, ["s-1"]);
    assert.is(gateway.stats().mqtt!.refusedByReason["subscribe-denied"], 3);
    device.send({ cmd: "unsubscribe", messageId: 5, unsubscriptions: [downlinkTopic("s-1")] });
    await device.waitFor("UNSUBACK", (p) => p.cmd === "unsuback");
    assert.not.ok(gateway.downlink!.isReady("s-1"));
    await device.end();
  });
});

test("send: a QoS 1 PUBLISH on the device's downlink topic, resolved by its PUBACK; refused when the device is not ready", async () => {
  await withGateway(async (gateway) => {
    await gateway.downlink!.send("s-1", new Uint8Array([1])).then(() => assert.unreachable("no session"), (e: Error) => assert.match(e.message, /no session/));
    const device = await subscribed(gateway, "s-1");
    let acked = false;
    const sent = gateway.downlink!.send("s-1", new Uint8Array([0x81, 0x01])).then(() => (acked = true));
    const publish = await device.waitFor("the downlink PUBLISH", (p) => p.cmd === "publish");
    assert.ok(publish.cmd === "publish");
    if (publish.cmd !== "publish") return;
    assert.equal([publish.topic, publish.qos, [...publish.payload as Buffer]], [downlinkTopic("s-1"), 1, [0x81, 0x01]]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.not.ok(acked, "not resolved before the device's PUBACK");
    device.send({ cmd: "puback", messageId: publish.messageId! });
    await within("send to resolve", sent);
    assert.equal(gateway.stats().mqtt!.downlink, { sent: 1, acked: 1, failed: 0 });
    await device.end();
  });
});

test("send rejects if the session ends before the PUBACK; the next session can be sent to", async () => {
  await withGateway(async (gateway) => {
    const device = await subscribed(gateway, "s-1");
    const sent = gateway.downlink!.send("s-1", new Uint8Array([7])).then(() => new Error("resolved without a PUBACK"), (e: Error) => e);
    await device.waitFor("the downlink PUBLISH", (p) => p.cmd === "publish");
    await device.end();
    assert.match((await sent).message, /ended before its PUBACK/);
    assert.is(gateway.stats().mqtt!.downlink.failed, 1);
    const again = await subscribed(gateway, "s-1");
    const next = gateway.downlink!.send("s-1", new Uint8Array([8]));
    const publish = await again.waitFor("the next PUBLISH", (p) => p.cmd === "publish");
    again.send({ cmd: "puback", messageId: publish.cmd === "publish" ? publish.messageId! : 0 });
    await within("the next send to resolve", next);
    await again.end();
  });
});

test("reports: PUBACK only once the handler resolves; a failing handler gets no PUBACK; another sensor's report topic is refused", async () => {
  await withGateway(async (gateway) => {
    const reports: Array<{ sensorId: string; payload: number[]; done: () => void; fail: (e: Error) => void }> = [];
    gateway.downlink!.onReport((sensorId, payload) => new Promise((resolve, reject) => reports.push({ sensorId, payload: [...payload], done: resolve, fail: reject })));
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
    const id = device.publish(reportTopic("s-1"), new Uint8Array([9, 9]));
    await waitFor("the handler to be called", () => reports.length === 1);
    assert.equal([reports[0].sensorId, reports[0].payload], ["s-1", [9, 9]]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.not.ok(device.received.some((p) => p.cmd === "puback"), "no PUBACK while the handler runs");
    reports[0].done();
    await device.puback(id);
    // On another sensor's report topic: not the handler's; refused as any foreign topic (quarantined, acknowledged).
    await device.puback(device.publish(reportTopic("s-2"), new Uint8Array([1])));
    assert.is(reports.length, 1);
    assert.equal(gateway.store.rejected().map((r) => r.reason), ["bad-topic"]);
    device.publish(reportTopic("s-1"), new Uint8Array([2]));
    await waitFor("the second report", () => reports.length === 2);
    reports[1].fail(new Error("could not store the report"));
    await within("the device to be dropped, unacknowledged", device.closed);
    assert.equal(gateway.stats().mqtt!.reports, { received: 2, handled: 1, failed: 1 });
  });
});

test("MQTT.js as the device: subscribe, receive a downlink message (acknowledged by the library), publish a report", async () => {
  await withGateway(async (gateway) => {
    gateway.downlink!.onReport(async () => {});
    const ready = new Promise<string>((resolve) => gateway.downlink!.onReady(resolve));
    const client = mqttJs.connect(`mqtt://127.0.0.1:${gateway.mqttPort}`, { clientId: "s-2", username: "s-2", password: secretOf("s-2"), reconnectPeriod: 0, clean: true });
    try {
      await within("MQTT.js to connect", new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject)));
      const received = new Promise<{ topic: string; payload: Buffer }>((resolve) => client.once("message", (topic, payload) => resolve({ topic, payload })));
      await client.subscribeAsync(downlinkTopic("s-2"), { qos: 1 });
      assert.is(await within("ready", ready), "s-2");
      await within("the downlink message to be acknowledged", gateway.downlink!.send("s-2", Buffer.from("set samplePeriodMs=5000")));
      const message = await within("the message", received);
      assert.equal([message.topic, message.payload.toString()], [downlinkTopic("s-2"), "set samplePeriodMs=5000"]);
      await within("the report's PUBACK", client.publishAsync(reportTopic("s-2"), "applied", { qos: 1 }));
      assert.is(gateway.stats().mqtt!.reports.handled, 1);
    } finally {
      await client.endAsync();
    }
  });
});

test.run();
