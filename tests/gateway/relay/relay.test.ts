import { test } from "uvu";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../../support/cloud-access.js";
import * as assert from "uvu/assert";
import { createServer } from "node:http";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import type { CloudConnector } from "../../../hosts/gateway/relay/connector.js";
import { CloudRequestError, createHttpConnector } from "../../../hosts/gateway/relay/connectors/http.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { Relay } from "../../../hosts/gateway/relay/relay.js";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { loginAs, registerAtCloud, untilAccepted } from "../../support/registrations.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { startCloud, type Cloud } from "../../../simulator/cloud/server.js";
import { freePort, observation, tempDir, waitFor, within } from "../../support/test-helpers.js";
import { anchorPayload, WALL } from "../../support/gateway-records.js";

function fill(store: ObservationStore, sensorId: string, count: number): void {
  for (let seq = 1; seq <= count; seq++) store.append(observation(sensorId, seq), 1000 + seq);
}

async function setup(port = 0) {
  const gatewayDir = tempDir("relay-gw");
  const cloudDir = tempDir("relay-cloud");
  const store = ObservationStore.open(gatewayDir.path);
  const logger = createMemoryLogger("relay");
  const startCloudHere = () => startCloud({ credentials: TEST_CREDENTIALS, port, grpcPort: 0, dataDir: cloudDir.path, logger: createMemoryLogger("cloud") });
  return {
    store,
    logger,
    startCloudHere,
    async done(relay: Relay | undefined, cloud: Cloud | undefined) {
      await relay?.close();
      await cloud?.close();
      store.close();
      gatewayDir.remove();
      cloudDir.remove();
    },
  };
}

test("the relay delivers the backlog in batches over HTTP and marks rows relayed only on the cloud's ack", async () => {
  const t = await setup();
  const cloud = await t.startCloudHere();
  fill(t.store, "s-1", 5);
  const relay = new Relay({ store: t.store, connector: createHttpConnector({ url: cloud.url, token: GATEWAY_TOKEN }), logger: t.logger, batchSize: 2, intervalMs: 50 });
  relay.start();
  await waitFor("the backlog to drain", () => relay.stats().backlog === 0);
  assert.is(cloud.store.counts().observations, 5);
  const stats = relay.stats();
  assert.is(stats.relayed, 5);
  assert.is(stats.batches, 3);
  assert.is(stats.failures, 0);
  const atCloud = cloud.store.after(0, 10);
  assert.equal(atCloud.map((o) => o.seq), [1, 2, 3, 4, 5]);
  assert.is(atCloud[0].receivedAt, 1001, "the gateway's receive time travels along");
  // New data is relayed promptly on wake.
  t.store.append(observation("s-1", 6), 2000);
  relay.wake();
  await waitFor("the new observation at the cloud", () => cloud.store.counts().observations === 6);
  await t.done(relay, cloud);
});

test("with the cloud down the relay backs off and retries, then delivers once it is up", async () => {
  const port = await freePort();
  const t = await setup(port);
  fill(t.store, "s-1", 3);
  const relay = new Relay({
    store: t.store,
    connector: createHttpConnector({ url: `http://127.0.0.1:${port}`, token: GATEWAY_TOKEN }),
    logger: t.logger,
    intervalMs: 50,
    retryInitialMs: 20,
    retryMaxMs: 80,
  });
  relay.start();
  await waitFor("three failed attempts", () => relay.stats().failures >= 3);
  const down = relay.stats();
  assert.is(down.state, "backing-off");
  assert.is(down.backlog, 3, "nothing is marked relayed while the cloud is down");
  assert.match(String(down.lastError), /ECONNREFUSED/);
  assert.ok(t.logger.lines.some((l) => l.level === "warn" && /relay to http .* failed/.test(String(l.msg))));
  const cloud = await t.startCloudHere();
  await waitFor("delivery after the outage", () => relay.stats().backlog === 0);
  assert.is(cloud.store.counts().observations, 3);
  assert.is(relay.stats().consecutiveFailures, 0);
  assert.ok(t.logger.lines.some((l) => /relay recovered/.test(String(l.msg))));
  await t.done(relay, cloud);
});

test("an ack lost on the way back means a resend, which the cloud acks as duplicates without storing twice", async () => {
  const t = await setup();
  const cloud = await t.startCloudHere();
  const http = createHttpConnector({ url: cloud.url, token: GATEWAY_TOKEN });
  let lose = 1;
  const lossy: CloudConnector = {
    name: "lossy",
    async send(batch) {
      const ack = await http.send(batch);
      if (lose-- > 0) throw new Error("connection reset after the cloud stored the batch");
      return ack;
    },
    close: () => http.close(),
  };
  fill(t.store, "s-1", 4);
  const relay = new Relay({ store: t.store, connector: lossy, logger: t.logger, intervalMs: 50, retryInitialMs: 10 });
  relay.start();
  await waitFor("delivery after the lost ack", () => relay.stats().backlog === 0);
  assert.is(relay.stats().failures, 1);
  assert.is(cloud.store.counts().observations, 4, "stored once at the cloud");
  assert.equal(cloud.store.after(0, 10).map((o) => o.seq), [1, 2, 3, 4]);
  await t.done(relay, cloud);
});

test("a partial ack marks only the acked rows and backs off before resending the rest", async () => {
  const t = await setup();
  fill(t.store, "s-1", 3);
  let calls = 0;
  const partial: CloudConnector = {
    name: "partial",
    async send(batch) {
      calls++;
      return { acked: calls === 1 ? [{ sensorId: batch[0].sensorId, seq: batch[0].seq }] : batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
    },
    async close() {},
  };
  const relay = new Relay({ store: t.store, connector: partial, logger: t.logger, intervalMs: 50, retryInitialMs: 10 });
  relay.start();
  await waitFor("the rest relayed", () => relay.stats().backlog === 0);
  const stats = relay.stats();
  assert.is(stats.relayed, 3);
  assert.is(stats.failures, 1);
  assert.match(String(stats.lastError), /acknowledged 1 of 3/);
  await t.done(relay, undefined);
});

test("an ack naming one row twice does not count for a row it left out", async () => {
  const t = await setup();
  fill(t.store, "s-1", 2);
  const echo: CloudConnector = {
    name: "echo",
    async send(batch) {
      return { acked: [{ sensorId: batch[0].sensorId, seq: batch[0].seq }, { sensorId: batch[0].sensorId, seq: batch[0].seq }] };
    },
    async close() {},
  };
  const relay = new Relay({ store: t.store, connector: echo, logger: t.logger, intervalMs: 50, retryInitialMs: 10 });
  relay.start();
  await waitFor("a failed attempt", () => relay.stats().failures >= 1);
  assert.match(String(relay.stats().lastError), /acknowledged 1 of 2/);
  await relay.close();
  assert.ok(t.store.find("s-1", 1)?.relayedAt, "the row it did name is marked");
  await t.done(undefined, undefined);
});

test("close waits for the request in flight and still records its ack", async () => {
  const t = await setup();
  fill(t.store, "s-1", 2);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow: CloudConnector = {
    name: "slow",
    async send(batch) {
      await gate;
      return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
    },
    async close() {},
  };
  const relay = new Relay({ store: t.store, connector: slow, logger: t.logger });
  relay.start();
  let closed = false;
  const closing = relay.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.not.ok(closed, "close waits for the send");
  release();
  await within("relay close", closing);
  assert.is(t.store.counts().unrelayed, 0);
  assert.is(relay.stats().state, "closed");
  await t.done(undefined, undefined);
});

test("end to end: a device's publish reaches the cloud through the gateway", async () => {
  const t = await setup();
  const cloud = await t.startCloudHere();
  const seen: number[] = [];
  cloud.onObservation((obs) => seen.push(obs.seq));
  const gatewayDir = tempDir("relay-e2e");
  const gateway = await startGateway({ httpPort: null, mqttPort: 0, dataDir: gatewayDir.path, cloudLink: { transport: "http", url: cloud.url, token: GATEWAY_TOKEN }, logger: t.logger, relayIntervalMs: 1000 });
  // The device may connect once its registration has reached the gateway from the cloud.
  await registerAtCloud(cloud.url, "s-1");
  await untilAccepted(gateway, ["s-1"]);
  const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", loginAs("s-1"));
  await device.puback(device.publish(uplinkTopic("s-1"), anchorPayload("s-1", 1, 0, WALL)));
  for (let seq = 1; seq <= 3; seq++) await device.puback(device.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", seq))));
  // Well under the idle interval: the relay was woken by the store, not by its timer.
  await waitFor("three observations at the cloud", () => seen.length === 3, 900);
  assert.equal(seen, [1, 2, 3]);
  const atCloud = cloud.store.after(0, 10);
  assert.equal(atCloud.map((o) => [o.time, o.timeSource]), [[WALL + 1_000, "device"], [WALL + 2_000, "device"], [WALL + 3_000, "device"]]);
  assert.equal(atCloud[0].readings, [{ quantity: "temperature", unit: "Cel", value: 21.5 }]);
  await waitFor("the gateway to see the acks", () => gateway.stats().relay.backlog === 0);
  assert.is(gateway.stats().relay.relayed, 3);
  await device.end();
  await gateway.close();
  gatewayDir.remove();
  await t.done(undefined, cloud);
});

test("rows in flight when their anchor arrives are marked relayed as sent; the rest go out with their time", async () => {
  const t = await setup();
  const cloud = await t.startCloudHere();
  const http = createHttpConnector({ url: cloud.url, token: GATEWAY_TOKEN });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let sent = 0;
  const gated: CloudConnector = {
    name: "gated",
    async send(batch) {
      sent++;
      if (sent === 1) await gate;
      return http.send(batch);
    },
    close: () => http.close(),
  };
  fill(t.store, "s-1", 2);
  const relay = new Relay({ store: t.store, connector: gated, logger: t.logger, batchSize: 1, intervalMs: 50 });
  relay.start();
  await waitFor("the first batch in flight", () => sent === 1);
  t.store.recordAnchor({ sensorId: "s-1", boot: 1, source: "gateway", offsetMs: WALL, uptimeMs: 0, wallMs: WALL, receivedAt: WALL });
  release();
  await waitFor("the backlog to drain", () => relay.stats().backlog === 0);
  const [first, second] = cloud.store.after(0, 10);
  assert.equal([first.seq, first.time, first.timeSource], [1, null, null]);
  assert.equal([second.seq, second.time, second.timeSource], [2, WALL + 2_000, "gateway"]);
  assert.is(t.store.find("s-1", 1)?.observation.time, undefined, "the gateway's row says what the cloud got");
  await t.done(relay, cloud);
});

test("the HTTP connector fails clearly on a non-2xx answer, a timeout, and an answer without acks", async () => {
  let mode: "500" | "hang" | "no-acks" = "500";
  const server = createServer((req, res) => {
    req.resume();
    if (mode === "500") return void res.writeHead(500).end("database on fire");
    if (mode === "no-acks") return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
    // "hang": never answer.
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const connector = createHttpConnector({ url, timeoutMs: 200 });
  const batch = [{ ...observation("s", 1), receivedAt: 1 }];

  const fail = async () => {
    try {
      await connector.send(batch);
    } catch (e) {
      return e as CloudRequestError;
    }
    throw new Error("send should have failed");
  };
  const http500 = await fail();
  assert.is(http500.status, 500);
  assert.match(http500.message, /HTTP 500: database on fire/);
  mode = "no-acks";
  assert.match((await fail()).message, /no valid "acked" list/);
  mode = "hang";
  assert.match((await within("timeout error", fail())).message, /no answer within 200 ms/);
  await connector.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test.run();
