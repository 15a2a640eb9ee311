/*
 * Group commit on the external-broker path (a real mosquitto): many
 * messages await their commit at once, so one commit covers many; a PUBACK
 * only after the commit, on the connection the message came on; a failed
 * commit or a gateway closed mid-commit leaves messages for mosquitto to
 * resend, and each is stored exactly once.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway, type GatewayOptions } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { downConnector, memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { obsPayload } from "../../support/gateway-records.js";
import { Mosquitto } from "../../support/mosquitto.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const GATEWAY = { username: "xsedge-gateway", password: "gateway-secret-1" };
const S1 = { username: "s-1", password: "sensor-secret-1" };
/** Reconnects back off up to 400 ms while commits fail: recovery takes a few of them. */
const RECOVERY_MS = 15_000;

// Started here, not in test.before: uvu swallows a hook's error, so a missing mosquitto would fail silently there.
const broker = await Mosquitto.start([GATEWAY, S1]);
const registry = new StaticRegistry([{ sensorId: S1.username, secret: S1.password }]);

test.after(async () => {
  await broker.remove();
});
// A failed assertion leaves its gateways and devices open: closed here, so the file still ends.
const opened: { close?: () => Promise<void>; end?: () => Promise<void> }[] = [];
test.after.each(async () => {
  for (const thing of opened.splice(0)) await (thing.close ?? thing.end)?.call(thing).catch(() => {});
});

/** A gateway on `dataDir`, subscribed to the test's mosquitto as `clientId`; no rate limit unless `extra` sets one. */
async function startExternal(dataDir: string, clientId: string, extra: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const gateway = await startGateway({
    httpPort: null, dataDir, connector: memoryConnector(), logger: createMemoryLogger("gateway"), registry, relayIntervalMs: 50,
    rateLimitPerSecond: Infinity,
    externalBroker: { url: broker.url, ...GATEWAY, clientId, reconnectInitialMs: 50, reconnectMaxMs: 400 },
    ...extra,
  });
  opened.push(gateway);
  await waitFor("the gateway's subscription", () => gateway.stats().externalBroker?.subscribed);
  return gateway;
}

async function connectDevice(clientId: string): Promise<TestMqttClient> {
  const device = await TestMqttClient.connect(broker.port, clientId, S1);
  opened.push(device);
  return device;
}

/** Publishes in one socket write and waits for mosquitto's PUBACKs (mosquitto has them then, not yet the gateway). */
async function publishMany(device: TestMqttClient, seqs: number[]): Promise<void> {
  const ids = device.publishAll(seqs.map((seq) => ({ topic: uplinkTopic(S1.username), payload: obsPayload(S1.username, seq) })));
  await Promise.all(ids.map((id) => device.puback(id)));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** s-1's seqs in the SQLite file, read by a connection of its own. */
function storedSeqs(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT seq FROM observations WHERE sensor_id = ? ORDER BY seq").all(S1.username) as { seq: number }[]).map((r) => r.seq);
  } finally {
    db.close();
  }
}

test("300 QoS 1 publishes: all stored and acknowledged, in fewer commits than messages; mosquitto holds none back", async () => {
  const dir = tempDir("ext-batch");
  const gateway = await startExternal(dir.path, "gw-batch");
  const device = await connectDevice("dev-s-1-batch");
  await publishMany(device, range(1, 300));
  await waitFor("300 acknowledged", () => gateway.stats().externalBroker?.acked === 300);
  const { outbox, ingest, externalBroker } = gateway.stats();
  assert.is(ingest.stored, 300);
  assert.is(externalBroker?.notAcked, 0);
  assert.is(externalBroker?.awaitingCommit, 0);
  assert.ok(outbox.commits < outbox.publishes, `${outbox.publishes} publishes in ${outbox.commits} commits: group commit never batched`);
  assert.ok((externalBroker?.largestAwaitingCommit ?? 0) > 1, `at most ${externalBroker?.largestAwaitingCommit} awaiting at once`);
  assert.equal(storedSeqs(gateway.store.path), range(1, 300));
  await within("gateway close", gateway.close());

  // Had any PUBACK not reached mosquitto, it would resend that message on reconnect, ahead of the one queued meanwhile.
  await publishMany(device, [301]);
  const again = await startExternal(dir.path, "gw-batch");
  await waitFor("the message queued while the gateway was down", () => again.stats().store.observations === 301);
  assert.is(again.stats().externalBroker?.messages, 1);
  await device.end();
  await within("gateway close", again.close());
  dir.remove();
});

test("commits failing for some messages: those are not acknowledged, the connection is reopened, mosquitto resends, each is stored once", async () => {
  const dir = tempDir("ext-batch");
  const gateway = await startExternal(dir.path, "gw-batch-failing");
  // Every tenth observation fails to insert, as a store that fails now and then would.
  const admin = new Database(gateway.store.path);
  admin.exec("CREATE TRIGGER fail_some BEFORE INSERT ON observations WHEN NEW.seq % 10 = 0 BEGIN SELECT RAISE(ABORT, 'store failing (test)'); END");
  const device = await connectDevice("dev-s-1-failing");
  await publishMany(device, range(1, 100));
  await waitFor("failed commits and a reconnect", () => {
    const external = gateway.stats().externalBroker;
    return (external?.notAcked ?? 0) >= 1 && (external?.reconnects ?? 0) >= 1;
  });
  assert.match(gateway.stats().externalBroker?.lastError ?? "", /store failing \(test\)/);
  assert.is(storedSeqs(gateway.store.path).filter((seq) => seq % 10 === 0).length, 0);
  admin.exec("DROP TRIGGER fail_some");
  admin.close();
  await waitFor("all 100 stored", () => gateway.stats().store.observations === 100, RECOVERY_MS);
  await waitFor("the resent messages acknowledged", () => gateway.stats().externalBroker?.awaitingCommit === 0);
  const { ingest, externalBroker } = gateway.stats();
  assert.is(ingest.stored, 100);
  assert.ok((externalBroker?.messages ?? 0) > 100, "the unacknowledged messages came back");
  assert.ok((externalBroker?.reconnects ?? 0) >= 1);
  assert.equal(storedSeqs(gateway.store.path), range(1, 100));
  await device.end();
  await within("gateway close", gateway.close());
  dir.remove();
});

test("a gateway closed with messages awaiting their commit: none of them acknowledged; after a restart mosquitto resends them and each is stored once", async () => {
  const dir = tempDir("ext-batch");
  // The cloud is down: with 5 unrelayed observations the outbox holds further publishes (backpressure) until the gateway closes.
  const first = await startExternal(dir.path, "gw-batch-close", { connector: downConnector(), outboxHighWater: 5, outboxMaxHoldMs: 60_000 });
  const device = await connectDevice("dev-s-1-close");
  await publishMany(device, range(1, 5));
  await waitFor("the first 5 acknowledged", () => first.stats().externalBroker?.acked === 5);
  await publishMany(device, range(6, 20));
  await waitFor("15 awaiting their commit", () => first.stats().externalBroker?.awaitingCommit === 15);
  await within("gateway close", first.close());
  await waitFor("the held messages settled, unacknowledged", () => first.stats().externalBroker?.notAcked === 15);
  assert.is(first.stats().externalBroker?.acked, 5);
  // Nothing acknowledged that is not in the file.
  assert.equal(storedSeqs(first.store.path), range(1, 5));

  const second = await startExternal(dir.path, "gw-batch-close");
  await waitFor("all 20 stored", () => second.stats().store.observations === 20);
  await waitFor("the resent 15 acknowledged", () => second.stats().externalBroker?.acked === 15);
  const { ingest, externalBroker } = second.stats();
  assert.is(ingest.stored, 15);
  assert.is(ingest.duplicate, 0, "an acknowledged message came back");
  assert.is(externalBroker?.messages, 15);
  assert.equal(storedSeqs(second.store.path), range(1, 20));
  await device.end();
  await within("gateway close", second.close());
  dir.remove();
});

test.run();
