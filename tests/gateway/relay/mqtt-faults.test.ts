/*
 * The MQTT cloud connector against brokers that misbehave, played with raw
 * packets (tests/support/packet-broker.ts): one that takes publishes and
 * never acknowledges them, one that drops the connection with publishes in
 * flight, and none at all. Through the real gateway: nothing is marked
 * relayed that the broker did not PUBACK.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "node:net";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { createMqttConnector, type MqttConnectorOptions } from "../../../hosts/gateway/relay/connectors/mqtt.js";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { obsPayload } from "../../support/gateway-records.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { startPacketBroker } from "../../support/packet-broker.js";
import { freePort, observation, tempDir, waitFor, within } from "../../support/test-helpers.js";

const SECRET = "device-secret-1";

async function withGateway(connectorOptions: MqttConnectorOptions, run: (t: {
  gateway: Awaited<ReturnType<typeof startGateway>>;
  connector: ReturnType<typeof createMqttConnector>;
  publish(from: number, to: number): Promise<void>;
}) => Promise<void>): Promise<void> {
  const data = tempDir("mqtt-faults");
  const connector = createMqttConnector(connectorOptions);
  const gateway = await startGateway({
    httpPort: null, mqttPort: 0, dataDir: data.path, connector, logger: createMemoryLogger(), registry: new StaticRegistry([{ sensorId: "s-1", secret: SECRET }]),
    relayIntervalMs: 50, relayRetryInitialMs: 50, relayRetryMaxMs: 200,
  });
  const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", { username: "s-1", password: SECRET });
  try {
    await run({
      gateway, connector,
      async publish(from, to) {
        const messages = [];
        for (let seq = from; seq <= to; seq++) messages.push({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", seq) });
        const ids = device.publishAll(messages);
        await device.puback(ids[ids.length - 1]);
      },
    });
  } finally {
    await device.end();
    await within("gateway close", gateway.close());
    await within("connector close", connector.close());
    data.remove();
  }
}

const options = (port: number): MqttConnectorOptions => ({
  url: `mqtt://127.0.0.1:${port}`, clientId: "gw-1", logger: createMemoryLogger(), retryInitialMs: 50, retryMaxMs: 200, protocolVersion: 4,
});

test("a broker that never PUBACKs: the batch times out, the connection is cut, nothing is marked; once it acks, all is delivered", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  try {
    await withGateway({ ...options(broker.port), ackTimeoutMs: 300, maxInFlight: 3 }, async (t) => {
      await t.publish(1, 5);
      await waitFor("a timeout", () => t.connector.stats().timeouts >= 1);
      await waitFor("the relay's failure", () => t.gateway.stats().relay.failures >= 1);
      const stats = t.connector.stats();
      assert.match(String(stats.lastError), /no PUBACK within 300 ms/);
      assert.match(String(t.gateway.stats().relay.lastError), /no PUBACK within 300 ms for observation 1 of 5/);
      assert.is(t.gateway.store.counts().unrelayed, 5, "nothing marked without a PUBACK");
      assert.is(stats.acked, 0);
      assert.ok(broker.publishes.length >= 3, "it did publish");
      assert.ok(broker.publishes.every((p) => p.qos === 1 && !p.dup), "QoS 1; a resend is a new PUBLISH on a new connection, never MQTT.js's DUP replay");
      await waitFor("a new connection after the cut", () => broker.connects.length >= 2);
      broker.ack = true;
      await waitFor("every row marked relayed", () => t.gateway.store.counts().unrelayed === 0);
      const seqs = new Set(broker.publishes.map((p) => JSON.parse(p.payload.toString()).seq));
      assert.equal([...seqs].sort(), [1, 2, 3, 4, 5]);
    });
  } finally {
    await broker.close();
  }
});

test("the connection dropped with publishes in flight: those are not marked, and are sent again after the reconnect", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  try {
    await withGateway({ ...options(broker.port), maxInFlight: 4 }, async (t) => {
      await t.publish(1, 10);
      await waitFor("four in flight", () => broker.publishes.length === 4);
      broker.dropAll();
      await waitFor("the loss seen", () => t.connector.stats().abandoned === 4);
      assert.match(String(t.connector.stats().lastError), /connection to mqtt:\/\/127\.0\.0\.1:\d+\/? lost/);
      assert.is(t.gateway.store.counts().unrelayed, 10);
      broker.ack = true;
      await waitFor("every row marked relayed", () => t.gateway.store.counts().unrelayed === 0);
      const stats = t.connector.stats();
      assert.ok(stats.reconnects >= 1);
      const seqs = broker.publishes.map((p) => JSON.parse(p.payload.toString()).seq as number);
      assert.equal([...new Set(seqs)].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.is(seqs.filter((s) => s <= 4).length, 8, "the four in flight went twice: once lost, once acked");
    });
  } finally {
    await broker.close();
  }
});

test("no broker at all: send fails with the reason, the connector keeps retrying and delivers once one listens", async () => {
  const port = await freePort();
  const connector = createMqttConnector({ ...options(port), connectTimeoutMs: 1000 });
  try {
    await waitFor("a failed attempt", () => connector.stats().connectFailures >= 1);
    const error = await connector.send([{ ...observation("s-1", 1), receivedAt: 1 }]).then(() => null, (e: Error) => e);
    assert.match(String(error?.message), /not connected to mqtt:\/\/127\.0\.0\.1:\d+\/?: cannot connect to .*ECONNREFUSED/);
    const broker = await startPacketBroker(port);
    try {
      await waitFor("connected", () => connector.stats().connected);
      const ack = await within("send", connector.send([{ ...observation("s-1", 1), receivedAt: 1 }]));
      assert.equal(ack.acked, [{ sensorId: "s-1", seq: 1 }]);
    } finally {
      await broker.close();
    }
  } finally {
    await connector.close();
  }
});

test("a server that takes TCP but never sends CONNACK: the attempt times out with a clear error", async () => {
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const connector = createMqttConnector({ ...options(port), connectTimeoutMs: 200 });
  try {
    await waitFor("a failed attempt", () => connector.stats().connectFailures >= 1);
    assert.match(String(connector.stats().lastError), /cannot connect to .*: connack timeout/);
  } finally {
    await connector.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("close ends a batch in flight: it resolves with what was acknowledged, and nothing else", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const connector = createMqttConnector(options(broker.port));
  try {
    await waitFor("connected", () => connector.stats().connected);
    const sending = connector.send([1, 2, 3].map((seq) => ({ ...observation("s-1", seq), receivedAt: 1 }))).then(() => "resolved", (e: Error) => e.message);
    await waitFor("three in flight", () => broker.publishes.length === 3);
    await connector.close();
    const outcome = await within("the send to end", sending);
    assert.match(outcome, /connector closed/);
    assert.is(connector.stats().acked, 0);
  } finally {
    await connector.close();
    await broker.close();
  }
});

test.run();
