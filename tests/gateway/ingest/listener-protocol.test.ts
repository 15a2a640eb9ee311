/*
 * MQTT as the device listener speaks it, through raw packets: what the
 * spec (modules/SPEC.md) has devices do is served, the leniencies issue
 * 2.1 found are refused or ignored with a reason and a counter (QoS 2,
 * retain, wills, other protocol levels, packets out of place), keep-alive
 * is enforced, and clean session 0 keeps a device's subscription.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mqtt from "mqtt-packet";
import { startGateway, type Gateway, type GatewayOptions } from "../../../hosts/gateway/gateway.js";
import { downlinkTopic } from "../../../hosts/gateway/ingest/downlink.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { obsPayload } from "../../support/gateway-records.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { HonestDevice, type HonestReport } from "../../support/honest-device.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const secretOf = (sensorId: string) => `secret-of-${sensorId}`;
const login = (sensorId: string) => ({ username: sensorId, password: secretOf(sensorId) });

async function withGateway(run: (gateway: Gateway, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>, options: Partial<GatewayOptions> = {}): Promise<void> {
  const dir = tempDir("listener-protocol");
  const logger = createMemoryLogger("gateway");
  const registry = new StaticRegistry(["s-1", "s-2"].map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({ mqttPort: 0, httpPort: 0, dataDir: dir.path, connector: memoryConnector(), logger, registry, ...options });
  try {
    await run(gateway, logger);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

const refusals = (gateway: Gateway) => gateway.stats().mqtt!.refusedByReason;

/** Beside each refusal, a device that behaves: it must keep getting its PUBACKs (within 1 s each: generous, for a shared machine). */
function assertServed(report: HonestReport): void {
  assert.ok(report.connected && report.unacked === 0 && report.acked >= 3, `the honest device was served: ${JSON.stringify(report)}`);
  assert.ok(report.slowestMs < 1000, `slowest honest PUBACK ${report.slowestMs.toFixed(0)} ms`);
}

test("a QoS 2 publish closes the connection unanswered (no PUBREC), is counted, and stores nothing", async () => {
  await withGateway(async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("s-2"));
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
    device.send({ cmd: "publish", topic: uplinkTopic("s-1"), payload: Buffer.from(obsPayload("s-1", 1)), qos: 2, dup: false, retain: false, messageId: 5 });
    await within("the QoS 2 publisher to be closed", device.closed);
    assert.not.ok(device.received.some((p) => p.cmd === "pubrec"));
    assert.is(refusals(gateway).qos2, 1);
    assert.is(gateway.store.find("s-1", 1), undefined);
    const again = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
    await again.puback(again.publish(uplinkTopic("s-1"), obsPayload("s-1", 1)));
    await again.end();
    assertServed(await honest.stop());
  });
});

test("the retain flag is ignored (stored, never retained) and counted; a will is ignored (never published) and counted", async () => {
  await withGateway(async (gateway, logger) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("s-2"));
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"), {
      connect: { will: { topic: uplinkTopic("s-1"), payload: Buffer.from(obsPayload("s-1", 99)), qos: 1, retain: true } },
    });
    device.send({ cmd: "publish", topic: uplinkTopic("s-1"), payload: Buffer.from(obsPayload("s-1", 1)), qos: 1, dup: false, retain: true, messageId: 1 });
    await device.puback(1);
    assert.ok(gateway.store.find("s-1", 1), "the retained publish is stored as any other");
    // A dropped connection would publish a will: this one must not become an observation.
    device.write(Buffer.from([0xf0, 0x00]));
    await within("the device to be closed", device.closed);
    const stats = gateway.stats();
    assert.equal([stats.mqtt!.retainIgnored, stats.mqtt!.willsIgnored], [1, 1]);
    assert.is(gateway.store.find("s-1", 99), undefined);
    assert.ok(logger.lines.some((l) => /has a will: ignored/.test(String(l.msg))));
    assertServed(await honest.stop());
  });
});

test("CONNECT must come first, once, at protocol level 4; packets a device never sends close the connection, counted", async () => {
  await withGateway(async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("s-2"));
    const first = TestMqttClient.socket(gateway.mqttPort!);
    first.on("error", () => {});
    first.write(mqtt.generate({ cmd: "pingreq" }));
    await within("a PINGREQ before CONNECT to be refused", new Promise((resolve) => first.once("close", resolve)));
    const five = await TestMqttClient.attempt(TestMqttClient.socket(gateway.mqttPort!), "connect", "s-1", login("s-1"), { protocolVersion: 5 });
    assert.is(five.returnCode, 1, "MQTT 5 is refused with CONNACK 1 [MQTT-3.1.2-2]");
    for (const packet of [
      { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "s-1", keepalive: 0 },
      { cmd: "pubrel", messageId: 3 },
      { cmd: "suback", messageId: 3, granted: [0] },
    ] as mqtt.Packet[]) {
      const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
      device.send(packet);
      await within(`${packet.cmd} after CONNECT to close the connection`, device.closed);
    }
    const refused = refusals(gateway);
    assert.equal([refused["not-connect-first"], refused["protocol-version"], refused["unexpected-packet"]], [1, 1, 3]);
    // And /metrics shows them by reason.
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
    assert.match(metrics, /^xsedge_mqtt_refused_total\{reason="unexpected-packet"\} 3$/m);
    assert.match(metrics, /^xsedge_mqtt_refused_total\{reason="packet-too-large"\} 0$/m);
    assert.match(metrics, /^xsedge_mqtt_connections \d+$/m);
    assertServed(await honest.stop());
  });
});

test("keep-alive: a device silent for 1.5 × its keep-alive is dropped; one that pings is kept", async () => {
  await withGateway(async (gateway) => {
    const silent = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"), { connect: { keepalive: 1 } });
    const pinging = await TestMqttClient.connect(gateway.mqttPort!, "s-2", login("s-2"), { connect: { keepalive: 1 } });
    const pings = setInterval(() => pinging.send({ cmd: "pingreq" }), 300);
    await within("the silent device to be dropped", silent.closed, 4000);
    clearInterval(pings);
    assert.ok(pinging.connected, "the pinging device is kept");
    assert.ok(pinging.received.some((p) => p.cmd === "pingresp"));
    assert.is(refusals(gateway)["keep-alive-timeout"], 1);
    await pinging.end();
  });
});

test("clean session 0 keeps the downlink subscription: CONNACK says session present and the device is ready without subscribing again", async () => {
  await withGateway(async (gateway) => {
    const ready: string[] = [];
    gateway.downlink!.onReady((sensorId) => ready.push(sensorId));
    const persistent = { connect: { clean: false } };
    const first = await TestMqttClient.attempt(TestMqttClient.socket(gateway.mqttPort!), "connect", "s-1", login("s-1"), { clean: false });
    assert.equal([first.returnCode, first.sessionPresent], [0, false]);
    first.client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: downlinkTopic("s-1"), qos: 1 }] });
    await first.client.waitFor("SUBACK", (p) => p.cmd === "suback");
    await first.client.end();
    assert.not.ok(gateway.downlink!.isReady("s-1"), "not ready while disconnected");
    const again = await TestMqttClient.attempt(TestMqttClient.socket(gateway.mqttPort!), "connect", "s-1", login("s-1"), persistent.connect);
    assert.equal([again.returnCode, again.sessionPresent], [0, true]);
    assert.ok(gateway.downlink!.isReady("s-1"));
    await waitFor("the second ready", () => ready.length === 2);
    await again.client.end();
    const clean = await TestMqttClient.attempt(TestMqttClient.socket(gateway.mqttPort!), "connect", "s-1", login("s-1"), { clean: true });
    assert.equal([clean.returnCode, clean.sessionPresent], [0, false]);
    assert.not.ok(gateway.downlink!.isReady("s-1"), "a clean session starts without the subscription");
    await clean.client.end();
  });
});

test("a device over its in-flight limit is read no further until acknowledged: all of a 60-publish write is stored and acknowledged, in order", async () => {
  await withGateway(async (gateway) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
    const ids = device.publishAll(Array.from({ length: 60 }, (_, i) => ({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", i + 1) })));
    await device.puback(ids.at(-1)!);
    const acked = device.received.filter((p) => p.cmd === "puback").map((p) => (p.cmd === "puback" ? p.messageId : 0));
    assert.equal(acked, ids, "every PUBACK, in the order of the publishes [MQTT-4.6.0-2]");
    assert.is(gateway.store.counts().observations, 60);
    assert.ok(gateway.stats().outbox.commits >= 60 / 3, "at most 3 in flight, so at most 3 per group commit");
    await device.end();
  }, { mqttLimits: { maxInFlight: 3 }, rateLimitPerSecond: Infinity });
});

test("bytes after DISCONNECT are not read: a publish behind it is not stored, and the gateway keeps serving", async () => {
  await withGateway(async (gateway) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login("s-1"));
    const publish = mqtt.generate({ cmd: "publish", topic: uplinkTopic("s-1"), payload: Buffer.from(obsPayload("s-1", 7)), qos: 1, dup: false, retain: false, messageId: 7 });
    device.write(Buffer.concat([mqtt.generate({ cmd: "disconnect" }), publish, Buffer.from([0xff, 0xff])]));
    device.write(publish);
    await within("the device to be closed", device.closed);
    assert.is(gateway.store.find("s-1", 7), undefined);
    const other = await TestMqttClient.connect(gateway.mqttPort!, "s-2", login("s-2"));
    await other.puback(other.publish(uplinkTopic("s-2"), obsPayload("s-2", 1)));
    await other.end();
  });
});

test.run();
