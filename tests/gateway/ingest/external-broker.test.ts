/*
 * The gateway ingesting from a real mosquitto (startGateway({ externalBroker })):
 * commit before PUBACK, the persistent session, refusals, broker restarts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import type { ExternalBrokerOptions } from "../../../hosts/gateway/ingest/external-broker.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { obsPayload } from "../../support/gateway-records.js";
import { Mosquitto } from "../../support/mosquitto.js";
import { freePort, tempDir, waitFor, within } from "../../support/test-helpers.js";

const GATEWAY = { username: "xsedge-gateway", password: "gateway-secret-1" };
const S1 = { username: "s-1", password: "sensor-secret-1" };
const S2 = { username: "s-2", password: "sensor-secret-2" };
/** Known to mosquitto, unknown to the gateway's registry. */
const STRANGER = { username: "stranger", password: "stranger-secret" };
/** May read and write anything under xsedge/: publishes what a device's ACL would stop, and subscribes to it as a gateway. */
const TESTER = { username: "tester", password: "tester-secret" };

// Started here, not in test.before: uvu swallows a hook's error, so a missing mosquitto would fail silently there.
const broker = await Mosquitto.start([GATEWAY, S1, S2, STRANGER, TESTER], "user tester\ntopic readwrite xsedge/#");
const registry = new StaticRegistry([{ sensorId: S1.username, secret: S1.password }, { sensorId: S2.username, secret: S2.password }]);

test.after(async () => {
  await broker.remove();
});

interface Running {
  gateway: Gateway;
  logger: ReturnType<typeof createMemoryLogger>;
  connector: ReturnType<typeof memoryConnector>;
}

/** A gateway on `dataDir`, connected and subscribed to the test's mosquitto. */
async function startExternal(dataDir: string, broker_: Partial<ExternalBrokerOptions>): Promise<Running> {
  const logger = createMemoryLogger("gateway");
  const connector = memoryConnector();
  const gateway = await startGateway({
    httpPort: null, dataDir, connector, logger, registry, relayIntervalMs: 50,
    externalBroker: { url: broker.url, ...GATEWAY, reconnectInitialMs: 50, reconnectMaxMs: 400, ...broker_ },
  });
  await waitFor("the gateway's subscription", () => gateway.stats().externalBroker?.subscribed);
  return { gateway, logger, connector };
}

async function publishAll(device: TestMqttClient, sensorId: string, seqs: number[]): Promise<void> {
  for (const seq of seqs) await device.puback(device.publish(uplinkTopic(sensorId), obsPayload(sensorId, seq)));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

test("observations published to mosquitto are stored, acknowledged and relayed; the password is never shown", async () => {
  const dir = tempDir("ext");
  // Credentials in the URL: used to log in, never shown.
  const url = `mqtt://${GATEWAY.username}:${GATEWAY.password}@127.0.0.1:${broker.port}`;
  const { gateway, logger, connector } = await startExternal(dir.path, { url, username: undefined, password: undefined, clientId: "gw-basic" });
  const device = await TestMqttClient.connect(broker.port, "dev-s-1-1", S1);
  await publishAll(device, "s-1", [1, 2, 3]);
  await waitFor("3 observations relayed", () => connector.batches.flat().length === 3);
  // The PUBACKs follow the commit's sync to disk, which the relay need not wait for.
  await waitFor("3 acknowledged", () => gateway.stats().externalBroker?.acked === 3);
  const stats = gateway.stats();
  assert.is(stats.store.observations, 3);
  assert.is(stats.mqttClients, 0);
  assert.is(gateway.mqttPort, null);
  assert.equal(connector.batches.flat().map((o) => o.seq).sort(), [1, 2, 3]);
  assert.is(stats.externalBroker?.url, `mqtt://${GATEWAY.username}@127.0.0.1:${broker.port}`);
  assert.is(stats.externalBroker?.acked, 3);
  assert.is(stats.externalBroker?.notAcked, 0);
  assert.ok(logger.lines.some((l) => String(l.msg).startsWith("connected to external broker")));
  assert.not.ok(JSON.stringify(logger.lines).includes(GATEWAY.password));
  assert.not.ok(JSON.stringify(stats).includes(GATEWAY.password));
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("a failed commit is not acknowledged: mosquitto resends it after the reconnect, and it is stored once the store recovers", async () => {
  const dir = tempDir("ext");
  const { gateway, logger } = await startExternal(dir.path, { clientId: "gw-failing" });
  // A second connection makes every observation insert fail, as a full disk would.
  const admin = new Database(gateway.store.path);
  admin.exec("CREATE TRIGGER fail_inserts BEFORE INSERT ON observations BEGIN SELECT RAISE(ABORT, 'store failing (test)'); END");
  const device = await TestMqttClient.connect(broker.port, "dev-s-1-2", S1);
  await publishAll(device, "s-1", [1]);
  // Received again after a reconnect: only an unacknowledged message comes back.
  await waitFor("the message resent after a reconnect", () => (gateway.stats().externalBroker?.notAcked ?? 0) >= 2);
  assert.ok((gateway.stats().externalBroker?.reconnects ?? 0) >= 1);
  assert.is(gateway.stats().store.observations, 0);
  assert.match(gateway.stats().externalBroker?.lastError ?? "", /store failing \(test\)/);
  admin.exec("DROP TRIGGER fail_inserts");
  admin.close();
  await waitFor("the resent message stored", () => gateway.stats().store.observations === 1);
  await waitFor("its PUBACK", () => gateway.stats().externalBroker?.acked === 1);
  assert.is(gateway.stats().ingest.stored, 1);
  assert.ok(logger.lines.some((l) => l.level === "warn" && String(l.msg).startsWith("commit failed: not acknowledging")));
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("messages published while the gateway is down are delivered when it comes back with the same client id", async () => {
  const dir = tempDir("ext");
  const first = await startExternal(dir.path, { clientId: "gw-queue" });
  await within("gateway close", first.gateway.close());
  const device = await TestMqttClient.connect(broker.port, "dev-s-2-3", S2);
  await publishAll(device, "s-2", range(1, 5));
  const second = await startExternal(dir.path, { clientId: "gw-queue" });
  await waitFor("the 5 queued observations", () => second.gateway.stats().store.observations === 5);
  assert.equal(second.connector.batches.length > 0, true);
  await waitFor("all relayed", () => second.connector.batches.flat().length === 5);
  await device.end();
  await within("gateway close", second.gateway.close());
  dir.remove();
});

test("an unregistered sensor's publish is refused, counted, logged and quarantined, never stored; others go on", async () => {
  const dir = tempDir("ext");
  const { gateway, logger } = await startExternal(dir.path, { clientId: "gw-unregistered" });
  const stranger = await TestMqttClient.connect(broker.port, "dev-stranger-4", STRANGER);
  await publishAll(stranger, "stranger", [1]);
  const device = await TestMqttClient.connect(broker.port, "dev-s-1-5", S1);
  await publishAll(device, "s-1", [1]);
  await waitFor("the good observation", () => gateway.stats().store.observations === 1);
  await waitFor("both acknowledged", () => gateway.stats().externalBroker?.acked === 2);
  const stats = gateway.stats();
  assert.is(stats.externalBroker?.unregistered, 1);
  assert.is(stats.store.rejected, 1);
  assert.is(gateway.store.rejected(1)[0].reason, "unregistered");
  assert.is(stats.externalBroker?.acked, 2);
  assert.ok(logger.lines.some((l) => l.level === "warn" && l.reason === "unregistered" && l.clientId === "ext:stranger"));
  await stranger.end();
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("malformed, oversized and off-pattern publishes are refused, counted and logged; a good one right after is stored", async () => {
  const dir = tempDir("ext");
  // A wider subscription than the default (and a user whose ACL allows it), so that a topic of another shape reaches the gateway.
  const { gateway, logger } = await startExternal(dir.path, { clientId: "gw-bad-input", topic: "xsedge/v1/#", ...TESTER });
  const tester = await TestMqttClient.connect(broker.port, "dev-tester-6", TESTER);
  await tester.puback(tester.publish(uplinkTopic("s-1"), Uint8Array.of(0xff, 0x00, 0x13)));
  await tester.puback(tester.publish(uplinkTopic("s-1"), new Uint8Array(300)));
  await tester.puback(tester.publish("xsedge/v1/s-1/status", obsPayload("s-1", 9)));
  await tester.puback(tester.publish(uplinkTopic("s-1"), obsPayload("s-1", 1)));
  await waitFor("the good observation", () => gateway.stats().store.observations === 1);
  await waitFor("all four acknowledged", () => gateway.stats().externalBroker?.acked === 4);
  const { ingest, externalBroker } = gateway.stats();
  assert.is(ingest.refusedByReason.malformed, 1);
  assert.is(ingest.refusedByReason["too-large"], 1);
  assert.is(ingest.refusedByReason["bad-topic"], 1);
  assert.is(externalBroker?.acked, 4);
  assert.is(gateway.stats().store.rejected, 3);
  for (const reason of ["malformed", "too-large", "bad-topic"]) {
    assert.ok(logger.lines.some((l) => l.level === "warn" && l.reason === reason), reason);
  }
  await tester.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("the shipped ACL lets a device publish only on its own uplink topic", async () => {
  const dir = tempDir("ext");
  const { gateway } = await startExternal(dir.path, { clientId: "gw-acl" });
  const impostor = await TestMqttClient.connect(broker.port, "dev-s-1-7", S1);
  // mosquitto 2.0 answers a denied QoS 1 publish of an MQTT 3.1.1 client with a PUBACK, drops it and disconnects the client.
  await impostor.puback(impostor.publish(uplinkTopic("s-2"), obsPayload("s-2", 1)));
  await within("the impostor's disconnect", impostor.closed);
  const device = await TestMqttClient.connect(broker.port, "dev-s-1-7", S1);
  await publishAll(device, "s-1", [1]);
  await waitFor("s-1's observation", () => gateway.stats().store.observations === 1);
  assert.is(gateway.stats().externalBroker?.messages, 1);
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("a missing TLS file or a bad URL stops the start with an error naming it; the password is not repeated", async () => {
  const dir = tempDir("ext");
  const missing = `${dir.path}/no-such-ca.pem`;
  const start = (externalBroker: ExternalBrokerOptions) =>
    startGateway({ httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), externalBroker });
  try {
    await start({ url: "mqtts://127.0.0.1:8883", caFile: missing });
    assert.unreachable("started without its CA file");
  } catch (e) {
    assert.match((e as Error).message, `externalBroker.caFile: cannot read ${missing}`);
  }
  try {
    await start({ url: "mqtt://gw:hunter2@[broken" });
    assert.unreachable("started with a bad URL");
  } catch (e) {
    assert.match((e as Error).message, "externalBroker.url");
    assert.not.match((e as Error).message, "hunter2");
  }
  dir.remove();
});

test("a broker that is down is retried with backoff, and its error is logged once, not per attempt", async () => {
  const dir = tempDir("ext");
  const logger = createMemoryLogger("gateway");
  const gateway = await startGateway({
    httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger, registry,
    externalBroker: { url: `mqtt://127.0.0.1:${await freePort()}`, ...GATEWAY, reconnectInitialMs: 10, reconnectMaxMs: 40 },
  });
  await waitFor("3 reconnect attempts", () => (gateway.stats().externalBroker?.reconnects ?? 0) >= 3);
  assert.is(gateway.stats().externalBroker?.connected, false);
  assert.match(gateway.stats().externalBroker?.lastError ?? "", /ECONNREFUSED/);
  assert.is(logger.lines.filter((l) => String(l.msg).includes("ECONNREFUSED")).length, 1);
  await within("gateway close", gateway.close());
  dir.remove();
});

test("mosquitto restarting mid-stream: the gateway reconnects and stores everything exactly once", async () => {
  const dir = tempDir("ext");
  const { gateway, connector } = await startExternal(dir.path, { clientId: "gw-restart" });
  let device = await TestMqttClient.connect(broker.port, "dev-s-1-8", S1);
  await publishAll(device, "s-1", range(1, 10));
  await waitFor("the first 10", () => gateway.stats().store.observations === 10);
  await broker.stop();
  await waitFor("the gateway to notice", () => gateway.stats().externalBroker?.connected === false);
  await broker.restart();
  device = await TestMqttClient.connect(broker.port, "dev-s-1-9", S1);
  // Possibly before the gateway is back: mosquitto queues them in its persisted session.
  await publishAll(device, "s-1", range(11, 20));
  await waitFor("all 20", () => gateway.stats().store.observations === 20);
  await waitFor("all relayed", () => connector.batches.flat().length === 20);
  // Each of the 20 acknowledged at least once: a redelivery is acknowledged again (its first PUBACK sent but not read, or never sent because the connection went before the commit's sync).
  await waitFor("all acknowledged", () => { const { externalBroker, ingest } = gateway.stats(); return (externalBroker?.acked ?? 0) + (externalBroker?.notAcked ?? 0) >= 20 + ingest.duplicate && (externalBroker?.acked ?? 0) >= 20; });
  const stats = gateway.stats();
  // Redeliveries are allowed (a PUBACK sent just before mosquitto stopped may not have been read); duplicate rows are not.
  assert.is(stats.ingest.stored, 20);
  assert.is(stats.store.observations, 20);
  assert.equal(connector.batches.flat().map((o) => o.seq).sort((a, b) => a - b), range(1, 20));
  assert.ok(stats.externalBroker!.acked >= 20 && stats.externalBroker!.acked <= 20 + stats.ingest.duplicate, `${stats.externalBroker!.acked} acknowledged, ${stats.ingest.duplicate} duplicates`);
  assert.ok((stats.externalBroker?.reconnects ?? 0) >= 1);
  assert.is(stats.externalBroker?.connected, true);
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test.run();
