/*
 * Device authentication at the gateway's broker, over real loopback MQTT:
 * who may connect, and that a device may publish only for its own sensor.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "node:net";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient, type Credentials } from "../../support/gateway-mqtt-client.js";
import { observation, tempDir, within } from "../../support/test-helpers.js";

const SECRETS = { "s-1": "secret-one-111", "s-2": "secret-two-222" };
type Logger = ReturnType<typeof createMemoryLogger>;

async function withGateway(run: (gateway: Gateway, logger: Logger) => Promise<void>): Promise<void> {
  const dir = tempDir("auth");
  const logger = createMemoryLogger("gateway");
  const registry = new StaticRegistry(Object.entries(SECRETS).map(([sensorId, secret]) => ({ sensorId, secret })));
  const gateway = await startGateway({ httpPort: null, mqttPort: 0, dataDir: dir.path, connector: memoryConnector(), logger, registry });
  try {
    await run(gateway, logger);
    const text = JSON.stringify(logger.lines) + JSON.stringify(gateway.stats());
    for (const secret of [...Object.values(SECRETS), "not-the-secret"]) assert.not.ok(text.includes(secret), `logs and stats never hold ${secret}`);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

/** A CONNECT that the gateway is expected to refuse: its CONNACK code, after which the connection closes. */
async function refusedConnect(gateway: Gateway, clientId: string, credentials?: Credentials): Promise<number> {
  const { client, returnCode } = await TestMqttClient.attempt(connect(gateway.mqttPort!, "127.0.0.1"), "connect", clientId, credentials);
  await within(`${clientId} to be disconnected`, client.closed);
  return returnCode;
}

const warnings = (logger: Logger) => logger.lines.filter((l) => l.level === "warn").map((l) => String(l.msg));

test("an unregistered sensor is refused with CONNACK 5, counted and logged; so is a CONNECT without credentials", async () => {
  await withGateway(async (gateway, logger) => {
    assert.is(await refusedConnect(gateway, "s-9", { username: "s-9", password: "not-the-secret" }), 5);
    assert.is(await refusedConnect(gateway, "anonymous"), 5);
    assert.ok(warnings(logger).includes(`refused CONNECT from client "s-9": sensor "s-9" is not registered`), warnings(logger).join("\n"));
    assert.ok(warnings(logger).includes(`refused CONNECT from client "anonymous": no username (the sensor id)`));
    assert.equal(gateway.stats().auth, { accepted: 0, unregistered: 2, badSecret: 0, wrongSensor: 0, tlsFailed: 0 });
    assert.is(gateway.stats().mqttClients, 0);
    assert.is(gateway.store.counts().observations, 0);
  });
});

test("a registered sensor with a wrong or missing secret is refused with CONNACK 4, counted and logged without the secret", async () => {
  await withGateway(async (gateway, logger) => {
    assert.is(await refusedConnect(gateway, "s-1", { username: "s-1", password: "not-the-secret" }), 4);
    assert.is(await refusedConnect(gateway, "s-1", { username: "s-1", password: SECRETS["s-2"] }), 4, "another sensor's secret");
    assert.ok(warnings(logger).includes(`refused CONNECT from client "s-1": wrong secret for sensor "s-1"`));
    assert.equal(gateway.stats().auth, { accepted: 0, unregistered: 0, badSecret: 2, wrongSensor: 0, tlsFailed: 0 });
    assert.is(gateway.store.counts().observations, 0);
  });
});

test("the right secret is accepted and the device's observations are stored", async () => {
  await withGateway(async (gateway) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", { username: "s-1", password: SECRETS["s-1"] });
    await device.puback(device.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", 1))));
    assert.ok(gateway.store.find("s-1", 1));
    assert.is(gateway.stats().auth.accepted, 1);
    await device.end();
  });
});

test("publishing another sensor's records is refused as wrong-sensor: acknowledged, quarantined, counted, logged, never stored", async () => {
  await withGateway(async (gateway, logger) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", { username: "s-1", password: SECRETS["s-1"] });
    await device.puback(device.publish(uplinkTopic("s-2"), encodeObservation(observation("s-2", 1))));
    assert.not.ok(gateway.store.find("s-2", 1), "not stored");
    assert.equal(gateway.store.rejected().map((r) => r.reason), ["wrong-sensor"]);
    const stats = gateway.stats();
    assert.is(stats.ingest.refusedByReason["wrong-sensor"], 1);
    assert.is(stats.auth.wrongSensor, 1);
    assert.ok(
      warnings(logger).some((m) => m.includes(`refused publish from s-1: wrong-sensor (sensorId): client authenticated as "s-1" may not publish for sensor "s-2"`)),
      warnings(logger).join("\n"),
    );
    // The device stays connected and its own records are still welcome.
    await device.puback(device.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", 1))));
    assert.ok(gateway.store.find("s-1", 1));
    await device.end();
  });
});

test.run();
