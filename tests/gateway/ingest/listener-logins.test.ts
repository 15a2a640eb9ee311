/*
 * Who may hold a device session, through raw MQTT on loopback: password
 * guessing slowed and then refused per (address, sensor), never the right
 * password from another address; no taking over another device's client
 * id; a session ends when its registration's secret changes or the
 * registration goes (issue 2.2 item 7). Each attack runs beside an honest
 * device that must keep getting PUBACKs.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mqtt from "mqtt-packet";
import { startGateway, type Gateway, type GatewayOptions } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { obsPayload } from "../../support/gateway-records.js";
import { TestMqttClient, type Credentials } from "../../support/gateway-mqtt-client.js";
import { HonestDevice, type HonestReport } from "../../support/honest-device.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const secretOf = (sensorId: string) => `secret-of-${sensorId}`;
const login = (sensorId: string) => ({ username: sensorId, password: secretOf(sensorId) });
const HONEST_BOUND_MS = 1000;

async function withGateway(options: Partial<GatewayOptions>, run: (gateway: Gateway, registry: StaticRegistry, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>): Promise<void> {
  const dir = tempDir("listener-logins");
  const logger = createMemoryLogger("gateway");
  const registry = new StaticRegistry(["honest", "victim", "attacker"].map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({ mqttPort: 0, httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger, registry, ...options });
  try {
    await run(gateway, registry, logger);
    const text = JSON.stringify(logger.lines) + JSON.stringify(gateway.stats());
    for (const sensorId of ["honest", "victim", "attacker"]) assert.not.ok(text.includes(secretOf(sensorId)), "no secret in the logs or stats");
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

function assertServed(report: HonestReport): void {
  assert.ok(report.connected && report.unacked === 0 && report.acked >= 3, `the honest device was served: ${JSON.stringify(report)}`);
  assert.ok(report.slowestMs < HONEST_BOUND_MS, `slowest honest PUBACK ${report.slowestMs.toFixed(0)} ms`);
}

async function attempt(gateway: Gateway, clientId: string, credentials: Credentials, localAddress?: string) {
  const result = await TestMqttClient.attempt(TestMqttClient.socket(gateway.mqttPort!, { localAddress }), "connect", clientId, credentials);
  if (result.returnCode !== 0) await within(`${clientId} to be disconnected`, result.client.closed);
  return result;
}

test("2,000 wrong passwords: slowed, then refused without checking; the right password from another address still gets in", async () => {
  // Delays long beside a batch of attempts even on a loaded machine: the next batch then always finds the sensor's
  // key waiting (delayed), where with 50–200 ms a stalled batch came after it and went straight in.
  const throttle = { initialDelayMs: 1000, maxDelayMs: 1000, maxFailures: 5 };
  await withGateway({ mqttLoginThrottle: throttle, mqttLimits: { maxUnauthenticatedPerAddress: 100 } }, async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("honest"));
    const wrong = { username: "victim", password: "guess-000000" };
    const codes = new Map<number, number>();
    for (let batch = 0; batch < 100; batch++) {
      const results = await Promise.all(Array.from({ length: 20 }, () => attempt(gateway, "victim", wrong)));
      for (const { returnCode } of results) codes.set(returnCode, (codes.get(returnCode) ?? 0) + 1);
    }
    const stats = gateway.stats();
    assert.is(stats.auth.badSecret, throttle.maxFailures, "only maxFailures guesses were ever checked");
    assert.ok(stats.mqtt!.loginsDelayed >= throttle.maxFailures - 1, `${stats.mqtt!.loginsDelayed} delayed`);
    const refused = stats.mqtt!.refusedByReason;
    assert.is(refused["login-locked-out"] + refused["login-busy"], 2000 - throttle.maxFailures);
    assert.equal([codes.get(4), codes.get(5)], [throttle.maxFailures, 2000 - throttle.maxFailures], "CONNACK 4 when checked, 5 when refused unchecked");
    // From the attacker's address even the right password is refused now; from the device's own, it is not.
    assert.is((await attempt(gateway, "victim", login("victim"))).returnCode, 5);
    const victim = await TestMqttClient.connect(gateway.mqttPort!, "victim", login("victim"), { localAddress: "127.0.0.2" });
    await victim.puback(victim.publish(uplinkTopic("victim"), obsPayload("victim", 1)));
    await victim.end();
    assertServed(await honest.stop());
  });
});

test("the client id must be the sensor id: another device's id is refused with CONNACK 2, so it cannot cut that device off", async () => {
  await withGateway({}, async (gateway, _registry, logger) => {
    const victim = await HonestDevice.start(gateway.mqttPort!, login("victim"));
    for (let i = 0; i < 20; i++) {
      const { returnCode } = await attempt(gateway, "victim", login("attacker"));
      assert.is(returnCode, 2);
    }
    assert.is((await attempt(gateway, "", login("attacker"))).returnCode, 2, "an empty client id");
    assert.is((await attempt(gateway, "x".repeat(65), login("attacker"))).returnCode, 2, "a client id past a sensor id's 64 characters");
    // A 60 KB client id does not fit in a packet at all: the connection is closed on the CONNECT's header.
    const huge = TestMqttClient.socket(gateway.mqttPort!);
    huge.on("error", () => {});
    huge.write(mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "x".repeat(60_000), keepalive: 0 }));
    await within("the 60 KB CONNECT to be refused", new Promise((resolve) => huge.once("close", resolve)));
    const stats = gateway.stats();
    assert.is(stats.mqtt!.refusedByReason["identifier-rejected"], 22);
    assert.is(stats.mqtt!.refusedByReason["packet-too-large"], 1);
    assert.is(stats.mqtt!.takeovers, 0);
    assert.ok(logger.lines.some((l) => l.level === "warn" && String(l.msg).startsWith(`refused CONNECT from client "victim": client id "victim" is not the username "attacker"`)));
    assertServed(await victim.stop());
  }, );
});

test("a device that logs in again takes over its own session: the old connection is closed, the new one served", async () => {
  await withGateway({}, async (gateway) => {
    const first = await TestMqttClient.connect(gateway.mqttPort!, "victim", login("victim"));
    const second = await TestMqttClient.connect(gateway.mqttPort!, "victim", login("victim"));
    await within("the old connection to be closed", first.closed);
    await second.puback(second.publish(uplinkTopic("victim"), obsPayload("victim", 1)));
    assert.equal([gateway.stats().mqtt!.takeovers, gateway.stats().mqttClients], [1, 1]);
    await second.end();
  });
});

test("removing a sensor, or giving it a new secret, ends the session it logged in with; the same secret again does not", async () => {
  await withGateway({}, async (gateway, registry) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("honest"));
    const victim = await TestMqttClient.connect(gateway.mqttPort!, "victim", login("victim"));
    registry.set("victim", secretOf("victim"));
    await victim.puback(victim.publish(uplinkTopic("victim"), obsPayload("victim", 1)));
    registry.set("victim", "a-new-secret-7");
    // The listener closes the session as the registry changes; 1 s bounds the close reaching the device.
    await within("the session with the old secret to be closed", victim.closed, 1000);
    assert.is((await attempt(gateway, "victim", login("victim"))).returnCode, 4);
    const renewed = await TestMqttClient.connect(gateway.mqttPort!, "victim", { username: "victim", password: "a-new-secret-7" });
    registry.remove("victim");
    await within("the session of a removed sensor to be closed", renewed.closed, 1000);
    assert.is((await attempt(gateway, "victim", { username: "victim", password: "a-new-secret-7" })).returnCode, 5);
    await waitFor("the revocations to be counted", () => gateway.stats().mqtt!.revoked === 2);
    assertServed(await honest.stop());
  });
});

test.run();
