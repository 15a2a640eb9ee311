/*
 * The MQTT cloud connector against a real upstream mosquitto, through the
 * real gateway: a device publishes to the gateway, the relay publishes each
 * observation to mosquitto, and a cloud-side subscriber counts what arrives.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { createMqttConnector, type MqttConnector, type MqttConnectorOptions } from "../../../hosts/gateway/relay/connectors/mqtt.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { toGatewayOptions } from "../../../hosts/gateway/config/gateway-options.js";
import { resolveConfig } from "../../../hosts/gateway/config/resolve.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { obsPayload } from "../../support/gateway-records.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { Mosquitto } from "../../support/mosquitto.js";
import { ObservationSubscriber } from "../../support/mqtt-subscriber.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const DEVICE = { username: "s-1", password: "device-secret-1" };
const UPSTREAM = { username: "gw-1", password: "gateway-secret-1" };
const READER = { username: "cloud-reader", password: "reader-secret-1" };
// The gateway may write only its own subtree; the cloud reads every gateway's.
const ACL = [
  `user ${UPSTREAM.username}`, "topic write xsedge/v1/gw-1/observations/#",
  `user ${READER.username}`, "topic read xsedge/v1/+/observations/#",
].join("\n");

const mosquitto = await Mosquitto.start([UPSTREAM, READER], ACL);

interface Rig {
  gateway: Gateway;
  connector: MqttConnector;
  device: TestMqttClient;
  logger: ReturnType<typeof createMemoryLogger>;
  /** Publishes seqs from..to from the device, each stored before its PUBACK. */
  publish(from: number, to: number): Promise<void>;
  done(): Promise<void>;
}

async function rig(connectorOptions: Partial<MqttConnectorOptions> = {}): Promise<Rig> {
  const data = tempDir("mqtt-cloud");
  const logger = createMemoryLogger("mqtt-cloud");
  const connector = createMqttConnector({
    url: mosquitto.url, clientId: "gw-1", ...UPSTREAM, logger: logger.child("mqtt"), retryInitialMs: 50, retryMaxMs: 200, ...connectorOptions,
  });
  const gateway = await startGateway({
    httpPort: null, mqttPort: 0, dataDir: data.path, connector, logger, registry: new StaticRegistry([{ sensorId: "s-1", secret: DEVICE.password }]),
    relayIntervalMs: 50, relayRetryInitialMs: 50, relayRetryMaxMs: 200, rateLimitPerSecond: Infinity,
  });
  const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", DEVICE);
  return {
    gateway, connector, device, logger,
    async publish(from, to) {
      const messages = [];
      for (let seq = from; seq <= to; seq++) messages.push({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", seq) });
      const ids = device.publishAll(messages);
      await device.puback(ids[ids.length - 1]);
    },
    async done() {
      await device.end();
      await within("gateway close", gateway.close());
      await within("connector close", connector.close());
      data.remove();
    },
  };
}

/** Runs `run` with a rig and, when `filter` is given, a subscriber; both are closed even when it fails. */
async function withRig(options: Partial<MqttConnectorOptions>, filter: string | null, run: (t: Rig, subscriber: ObservationSubscriber) => Promise<void>): Promise<void> {
  const subscriber = filter === null ? undefined : await ObservationSubscriber.connect(mosquitto.url, `reader-${++subscribers}`, READER.username, READER.password, filter);
  try {
    const t = await rig(options);
    try {
      await run(t, subscriber as ObservationSubscriber);
    } finally {
      await t.done();
    }
  } finally {
    await subscriber?.close();
  }
}
let subscribers = 0;

test("every observation reaches the cloud's subscriber as JSON on the gateway's topic, and is marked relayed", () =>
  withRig({}, "xsedge/v1/+/observations/#", async (t, subscriber) => {
    await t.publish(1, 50);
    await waitFor("50 observations at the cloud", () => subscriber.unique.size === 50);
    await waitFor("every row marked relayed", () => t.gateway.store.counts().unrelayed === 0);
    assert.equal(subscriber.seqs("s-1"), Array.from({ length: 50 }, (_, i) => i + 1));
    const first = subscriber.unique.get("s-1/1")!;
    assert.is(first.topic, "xsedge/v1/gw-1/observations/s-1");
    assert.equal(first.body.readings, [{ quantity: "temperature", value: 21.5 }]);
    assert.ok(typeof first.body.receivedAt === "number");
    const stats = t.connector.stats();
    assert.is(stats.connected, true);
    assert.is(stats.acked, 50);
    assert.is(stats.published, 50);
    assert.equal([stats.refused, stats.timeouts, stats.abandoned], [0, 0, 0]);
    assert.is(t.gateway.stats().relay.relayed, 50);
  }));

test("configured as cloud.transport mqtt, the gateway makes the connector itself and relays through it", async () => {
  const data = tempDir("mqtt-cloud-config");
  const subscriber = await ObservationSubscriber.connect(mosquitto.url, `reader-${++subscribers}`, READER.username, READER.password, "xsedge/v1/+/observations/#");
  const resolved = resolveConfig({
    file: { name: "gw.yaml", text: `dataDir: ${data.path}\nmqtt: {port: 0}\nhttp: {port: null}\ncloud:\n  transport: mqtt\n  mqtt: {url: "${mosquitto.url}", username: ${UPSTREAM.username}, clientId: gw-1}\n` },
    env: { XSEDGE_GATEWAY_CLOUD_MQTT_PASSWORD: UPSTREAM.password },
  });
  if (!resolved.ok) throw new Error(resolved.errors.join("\n"));
  const gateway = await startGateway({
    ...toGatewayOptions(resolved.config), logger: createMemoryLogger("mqtt-cloud-config"),
    registry: new StaticRegistry([{ sensorId: "s-1", secret: DEVICE.password }]), rateLimitPerSecond: Infinity,
  });
  try {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", DEVICE);
    await device.puback(device.publishAll([1, 2, 3].map((seq) => ({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", seq) }))).at(-1)!);
    await waitFor("3 observations at the cloud", () => subscriber.unique.size === 3);
    await waitFor("every row marked relayed", () => gateway.store.counts().unrelayed === 0);
    assert.is(subscriber.unique.get("s-1/2")!.topic, "xsedge/v1/gw-1/observations/s-1");
    assert.is((gateway.stats().cloudLink as { acked: number }).acked, 3);
    await device.end();
  } finally {
    await within("gateway close", gateway.close());
    await subscriber.close();
    data.remove();
  }
});

// A small window keeps the stream going long enough to be cut in the middle.
test("mosquitto restarted mid-stream: nothing is lost (duplicates are counted, not lost), the connector reconnects", () =>
  withRig({ maxInFlight: 2 }, "xsedge/v1/+/observations/#", async (t, subscriber) => {
    const publishing = t.publish(1, 600);
    await waitFor("the stream under way", () => subscriber.unique.size >= 50);
    await mosquitto.stop();
    await publishing;
    await t.publish(601, 700);
    await waitFor("the connector to notice", () => !t.connector.stats().connected);
    assert.ok(t.gateway.store.counts().unrelayed > 0, "observations wait in the outbox while the broker is down");
    await mosquitto.restart();
    await waitFor("all 700 at the cloud", () => subscriber.unique.size === 700, 15_000);
    await waitFor("every row marked relayed", () => t.gateway.store.counts().unrelayed === 0);
    assert.equal(subscriber.seqs("s-1"), Array.from({ length: 700 }, (_, i) => i + 1));
    const stats = t.connector.stats();
    assert.ok(stats.reconnects >= 1, "reconnected");
    // Resends of what was in flight when the broker went (and mosquitto's own redeliveries) are allowed: the consumer dedupes by sensorId + seq.
    console.log(`restart: ${subscriber.duplicates} duplicates at the subscriber, ${stats.abandoned} publishes abandoned in flight, ${stats.published} published`);
  }));

test("a wrong password: the broker's refusal is named in lastError and the relay's, nothing is marked", () =>
  withRig({ password: "wrong-password" }, null, async (t) => {
    await t.publish(1, 3);
    await waitFor("a refused attempt", () => t.connector.stats().connectFailures >= 1);
    await waitFor("the relay's failure", () => t.gateway.stats().relay.failures >= 1);
    const stats = t.connector.stats();
    assert.is(stats.connected, false);
    assert.match(String(stats.lastError), /broker refused the connection: (bad user name or password|not authorized) \(CONNACK reason 0x8[67]\)/);
    assert.match(String(t.gateway.stats().relay.lastError), /not connected to mqtt:.*broker refused the connection/);
    assert.is(t.gateway.store.counts().unrelayed, 3);
    assert.is(stats.published, 0);
    assert.not.ok(JSON.stringify(t.logger.lines).includes("wrong-password"), "the password is never logged");
  }));

test("MQTT 5: a publish the broker's ACL denies is refused in its PUBACK, counted, and not marked", () =>
  withRig({ gatewayId: "gw-2" }, null, async (t) => {
    await t.publish(1, 2);
    await waitFor("the refusals", () => t.connector.stats().refused >= 2);
    await waitFor("the relay's failure", () => t.gateway.stats().relay.failures >= 1);
    const stats = t.connector.stats();
    assert.match(String(stats.lastError), /refused by the broker: not authorized \(PUBACK reason 0x87\)/);
    assert.is(stats.acked, 0);
    assert.is(t.gateway.store.counts().unrelayed, 2);
    assert.match(String(t.gateway.stats().relay.lastError), /not authorized/);
  }));

test("MQTT 3.1.1 (protocolVersion 4) delivers as well", () =>
  withRig({ protocolVersion: 4 }, "xsedge/v1/gw-1/observations/+", async (t, subscriber) => {
    await t.publish(1, 20);
    await waitFor("20 observations at the cloud", () => subscriber.unique.size === 20);
    await waitFor("every row marked relayed", () => t.gateway.store.counts().unrelayed === 0);
  }));

test("bad options fail at construction, naming the option", () => {
  const base = { url: mosquitto.url, clientId: "gw-x", logger: createMemoryLogger() };
  assert.throws(() => createMqttConnector({ ...base, url: "https://broker" }), /protocol must be mqtt: or mqtts:/);
  assert.throws(() => createMqttConnector({ ...base, maxInFlight: 0 }), /maxInFlight must be an integer from 1 to 65535, got 0/);
  assert.throws(() => createMqttConnector({ ...base, ackTimeoutMs: -5 }), /ackTimeoutMs/);
  assert.throws(() => createMqttConnector({ ...base, topic: "x/{nope}" }), /unknown placeholder \{nope\}/);
  assert.throws(() => createMqttConnector({ ...base, clientId: "" }), /clientId must not be empty/);
  assert.throws(() => createMqttConnector({ ...base, tls: { caFile: "/nonexistent/ca.pem" } }), /tls is set but the URL is mqtt:/);
});

test.after(async () => {
  await mosquitto.remove();
});

test.run();
