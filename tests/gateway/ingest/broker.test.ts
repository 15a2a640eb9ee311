import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { connect } from "node:net";
import { encodeObservation } from "../../../modules/observation/record.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import type { CloudConnector } from "../../../hosts/gateway/relay/connector.js";
import { downConnector, memoryConnector } from "../../support/gateway-fakes.js";
import { observation, tempDir, within } from "../../support/test-helpers.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { anchorPayload, WALL } from "../../support/gateway-records.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";

// Devices log in as their sensor: username = sensor id, password = its secret.
const SENSORS = ["s-1", "s-9", "s-bystander"].map((sensorId) => ({ sensorId, secret: `secret-of-${sensorId}` }));
const registry = () => new StaticRegistry(SENSORS);
const as = (sensorId: string) => ({ username: sensorId, password: `secret-of-${sensorId}` });

type Run = (gateway: Gateway, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>;

async function withGateway(run: Run, connector: CloudConnector = memoryConnector()): Promise<void> {
  const dir = tempDir("broker");
  const logger = createMemoryLogger("gateway");
  const gateway = await startGateway({ httpPort: null, mqttPort: 0, dataDir: dir.path, connector, logger, relayIntervalMs: 50, registry: registry() });
  try {
    await run(gateway, logger);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

function payload(sensorId: string, seq: number): Uint8Array {
  return encodeObservation(observation(sensorId, seq));
}

test("a valid QoS 1 publish is committed to SQLite before its PUBACK arrives", async () => {
  await withGateway(async (gateway) => {
    // A second connection sees only what is committed, not the gateway's open transaction.
    const reader = new Database(gateway.store.path, { readonly: true });
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    let rowsAtPuback = -1;
    device.onPacket = (packet) => {
      if (packet.cmd === "puback") {
        rowsAtPuback = (reader.prepare("SELECT COUNT(*) AS n FROM observations WHERE sensor_id = ? AND seq = ?").get("s-1", 1) as { n: number }).n;
      }
    };
    const id = device.publish(uplinkTopic("s-1"), payload("s-1", 1));
    await device.puback(id);
    assert.is(rowsAtPuback, 1);
    assert.is(gateway.stats().ingest.stored, 1);
    reader.close();
    await device.end();
  });
});

test("a clock anchor and the rows it times are committed before its PUBACK arrives", async () => {
  await withGateway(async (gateway) => {
    const reader = new Database(gateway.store.path, { readonly: true });
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    await device.puback(device.publish(uplinkTopic("s-1"), payload("s-1", 1)));
    let atPuback: unknown;
    device.onPacket = (packet) => {
      if (packet.cmd === "puback") {
        atPuback = reader.prepare("SELECT a.source, o.time FROM clock_anchors a JOIN observations o USING (sensor_id, boot) WHERE o.seq = 1").get();
      }
    };
    await device.puback(device.publish(uplinkTopic("s-1"), anchorPayload("s-1", 1, 500, WALL)));
    assert.equal(atPuback, { source: "device", time: WALL + 500 });
    assert.equal(gateway.stats().ingest.anchors, { adopted: 1, replaced: 0, kept: 0 });
    reader.close();
    await device.end();
  }, downConnector()); // With the cloud down, the row is still unrelayed when its anchor arrives.
});

test("anchors survive a gateway restart: a boot's later observations are timed by the anchor from before it", async () => {
  const dir = tempDir("broker");
  const start = () => startGateway({ httpPort: null, mqttPort: 0, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), now: () => WALL + 60_000, registry: registry() });
  let gateway = await start();
  let device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
  // A null anchor: the gateway's (injected) clock at receipt stands in.
  await device.puback(device.publish(uplinkTopic("s-1"), anchorPayload("s-1", 1, 10_000, null)));
  await device.end();
  await within("gateway close", gateway.close());
  gateway = await start();
  device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
  await device.puback(device.publish(uplinkTopic("s-1"), payload("s-1", 30)));
  const stored = gateway.store.find("s-1", 30)?.observation;
  assert.equal([stored?.time, stored?.timeSource], [WALL + 60_000 - 10_000 + 30_000, "gateway"]);
  assert.is(gateway.stats().ingest.untimed, 0);
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("no PUBACK without a commit: a store failure drops the publisher, who is stored on its retry", async () => {
  await withGateway(async (gateway, logger) => {
    const bystander = await TestMqttClient.connect(gateway.mqttPort!, "s-bystander", as("s-bystander"));
    const { append, appendAll } = gateway.store;
    gateway.store.append = gateway.store.appendAll = () => {
      throw new Error("disk I/O error");
    };
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    device.publish(uplinkTopic("s-1"), payload("s-1", 1));
    await within("the publisher to be disconnected", device.closed);
    assert.not.ok(device.received.some((p) => p.cmd === "puback"), "no PUBACK for an uncommitted publish");
    assert.is(gateway.stats().ingest.failed, 1);
    assert.ok(logger.lines.some((l) => l.level === "error" && /not acknowledging/.test(String(l.msg))));
    assert.ok(bystander.connected, "other clients are not affected");

    gateway.store.append = append;
    gateway.store.appendAll = appendAll;
    const retry = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    await retry.puback(retry.publish(uplinkTopic("s-1"), payload("s-1", 1)));
    assert.ok(gateway.store.find("s-1", 1));
    await retry.end();
    await bystander.end();
  });
});

test("a malformed payload is acknowledged, quarantined, counted and logged, and the gateway keeps serving", async () => {
  await withGateway(async (gateway, logger) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    const other = await TestMqttClient.connect(gateway.mqttPort!, "s-9", as("s-9"));
    const bad = device.publish(uplinkTopic("s-1"), new Uint8Array([0x9f, 0x01]));
    await device.puback(bad);
    const stats = gateway.stats();
    assert.is(stats.ingest.refused, 1);
    assert.is(stats.ingest.refusedByReason.malformed, 1);
    assert.is(stats.store.rejected, 1);
    const line = logger.lines.find((l) => l.level === "warn" && l.reason === "malformed");
    assert.ok(line, "a warn line with the reason");
    assert.is(line?.clientId, "s-1");
    assert.match(String(line?.msg), /refused publish from s-1: malformed \(record\)/);

    await device.puback(device.publish(uplinkTopic("s-1"), payload("s-1", 2)));
    await other.puback(other.publish(uplinkTopic("s-9"), payload("s-9", 1)));
    assert.ok(gateway.store.find("s-1", 2), "the same client's next publish is stored");
    assert.ok(gateway.store.find("s-9", 1), "another client's publish is stored");
    assert.is(gateway.stats().ingest.stored, 2);
    assert.ok(device.connected && other.connected);
    await device.end();
    await other.end();
  });
});

test("a publish on a foreign topic or for another sensor is refused with its reason, and acknowledged", async () => {
  await withGateway(async (gateway) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    await device.puback(device.publish("home/kitchen/temp", payload("s-1", 1)));
    await device.puback(device.publish(uplinkTopic("s-2"), payload("s-1", 1)));
    const reasons = gateway.store.rejected().map((r) => r.reason).sort();
    assert.equal(reasons, ["bad-topic", "sensor-mismatch"]);
    assert.is(gateway.store.counts().observations, 0);
    await device.end();
  });
});

test("a retried publish (lost PUBACK) is acknowledged again and stored once", async () => {
  await withGateway(async (gateway) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    const record = payload("s-1", 5);
    await device.puback(device.publish(uplinkTopic("s-1"), record));
    device.send({ cmd: "publish", topic: uplinkTopic("s-1"), payload: Buffer.from(record), qos: 1, dup: true, retain: false, messageId: 77 });
    await device.puback(77);
    assert.is(gateway.store.counts().observations, 1);
    assert.is(gateway.stats().ingest.duplicate, 1);
    await device.end();
  });
});

test("subscriptions are denied with SUBACK 0x80 and a log line, without a disconnect", async () => {
  await withGateway(async (gateway, logger) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    device.send({ cmd: "subscribe", messageId: 9, subscriptions: [{ topic: "xsedge/v1/+/up", qos: 1 }] });
    const suback = await device.waitFor("SUBACK", (p) => p.cmd === "suback");
    assert.equal(suback.cmd === "suback" && suback.granted, [128]);
    assert.ok(logger.lines.some((l) => l.level === "warn" && /subscribe denied for s-1/.test(String(l.msg))));
    await device.puback(device.publish(uplinkTopic("s-1"), payload("s-1", 1)));
    await device.end();
  });
});

test("close disconnects clients (even one that never sent CONNECT), closes the store, and is idempotent", async () => {
  const dir = tempDir("broker");
  const gateway = await startGateway({ httpPort: null, mqttPort: 0, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), registry: registry() });
  const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
  const silent = connect(gateway.mqttPort!, "127.0.0.1");
  await within("silent connect", new Promise((resolve) => silent.once("connect", resolve)));
  const silentClosed = new Promise((resolve) => silent.once("close", resolve));
  silent.on("error", () => {});
  await within("gateway close", Promise.all([gateway.close(), gateway.close()]), 3000);
  await within("device disconnected", device.closed);
  await within("silent socket closed", silentClosed);
  assert.not.ok(gateway.store.isOpen);
  const refused = connect(gateway.mqttPort!, "127.0.0.1");
  const error = await within("connection refused", new Promise<Error>((resolve) => refused.once("error", resolve)));
  assert.match(error.message, /ECONNREFUSED/);
  dir.remove();
});

test("a gateway whose port is taken fails to start with the listener's error", async () => {
  await withGateway(async (running) => {
    const dir = tempDir("broker");
    try {
      await startGateway({ httpPort: null, mqttPort: running.mqttPort!, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), registry: registry() });
      assert.unreachable("should not start");
    } catch (e) {
      assert.match((e as Error).message, /EADDRINUSE/);
    }
    dir.remove();
  });
});

test.run();
