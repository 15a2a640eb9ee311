import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { Ingest, uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { IngestQueue } from "../../../hosts/gateway/ingest/queue.js";
import { assessHealth } from "../../../hosts/gateway/api/health.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import type { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { downConnector, memoryConnector } from "../../support/gateway-fakes.js";
import { obsPayload } from "../../support/gateway-records.js";
import { device, withOutboxGateway } from "../../support/outbox-gateway.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const unlimited = { rateLimitPerSecond: Infinity };

/** Records, at each PUBACK, whether the row it acknowledges is visible to a second connection (committed). */
function checkEachPuback(client: TestMqttClient, reader: Database.Database, sensorId: string, seqOfId: Map<number, number>): { acked: number[]; missing: number[] } {
  const row = reader.prepare("SELECT 1 FROM observations WHERE sensor_id = ? AND seq = ?");
  const result = { acked: [] as number[], missing: [] as number[] };
  client.onPacket = (packet) => {
    if (packet.cmd !== "puback") return;
    const seq = seqOfId.get(packet.messageId!)!;
    result.acked.push(seq);
    if (row.get(sensorId, seq) === undefined) result.missing.push(seq);
  };
  return result;
}

function publishSeqs(client: TestMqttClient, sensorId: string, seqs: number[]): Map<number, number> {
  const ids = client.publishAll(seqs.map((seq) => ({ topic: uplinkTopic(sensorId), payload: obsPayload(sensorId, seq) })));
  return new Map(ids.map((id, i) => [id, seqs[i]]));
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

test("one client's 300 QoS 1 publishes in flight share a few commits, and each PUBACK follows its row's commit", async () => {
  await withOutboxGateway(["s-1"], { ...unlimited, connector: downConnector() }, async (gateway) => {
    const reader = new Database(gateway.store.path, { readonly: true });
    const client = await device(gateway.mqttPort!, "s-1");
    const seen = checkEachPuback(client, reader, "s-1", publishSeqs(client, "s-1", range(1, 300)));
    await waitFor("300 PUBACKs", () => seen.acked.length === 300);
    assert.equal(seen.missing, []);
    const outbox = gateway.stats().outbox;
    assert.is(outbox.publishes, 300);
    assert.ok(outbox.commits <= 30, `${outbox.commits} commits for 300 publishes`);
    assert.is(outbox.depth, 300);
    assert.is(gateway.stats().ingest.stored, 300);
    reader.close();
    await client.end();
  });
});

test("publishes from 20 clients at once share commits, and each PUBACK follows its row's commit", async () => {
  const sensors = range(1, 20).map((n) => `s-${n}`);
  await withOutboxGateway(sensors, { ...unlimited, connector: memoryConnector() }, async (gateway) => {
    const reader = new Database(gateway.store.path, { readonly: true });
    const clients = await Promise.all(sensors.map((s) => device(gateway.mqttPort!, s)));
    const seen = clients.map((client, i) => checkEachPuback(client, reader, sensors[i], publishSeqs(client, sensors[i], range(1, 10))));
    await waitFor("200 PUBACKs", () => seen.every((s) => s.acked.length === 10));
    assert.equal(seen.flatMap((s) => s.missing), []);
    const outbox = gateway.stats().outbox;
    assert.is(outbox.publishes, 200);
    assert.ok(outbox.commits <= 50, `${outbox.commits} commits for 200 publishes`);
    reader.close();
    await Promise.all(clients.map((c) => c.end()));
  });
});

test("a group whose transaction fails is committed publish by publish: only the bad one fails, and counters count only commits", async () => {
  const dir = tempDir("group");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger();
  const ingest = new Ingest({ store, logger, now: () => 1000 });
  const committed: string[][] = [];
  const queue = new IngestQueue({ ingest, store, logger, onCommitted: (outcomes) => committed.push(outcomes.map((o) => o.kind)) });
  // The store fails to write seq 3, whether alone or among a group's rows.
  const append = store.append.bind(store);
  const appendAll = store.appendAll.bind(store);
  store.append = (obs, at) => {
    if (obs.seq === 3) throw new Error("disk I/O error");
    return append(obs, at);
  };
  store.appendAll = (list, at) => {
    if (list.some((obs) => obs.seq === 3)) throw new Error("disk I/O error");
    return appendAll(list, at);
  };
  const outcomes = await Promise.all(range(1, 5).map((seq) => queue.submit({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", seq), clientId: "dev-1" })));
  assert.equal(outcomes.map((o) => o.kind), ["stored", "stored", "failed", "stored", "stored"]);
  assert.equal(committed, [["stored", "stored", "failed", "stored", "stored"]]);
  // Seqs 1 and 2 were staged in the group that rolled back; they count once, when committed alone.
  assert.is(ingest.counters().stored, 4);
  assert.is(ingest.counters().failed, 1);
  assert.equal(queue.stats(), { commits: 4, publishes: 5, largestGroup: 5, failedGroups: 1, failedSyncs: 0, awaitingCommit: 0, awaitingSync: 0 });
  assert.is(store.find("s-1", 3), undefined);
  assert.ok(logger.lines.some((l) => l.level === "warn" && /group commit of 5 publishes failed/.test(String(l.msg))));
  store.close();
  dir.remove();
});

test("no outcome before the commit's sync to disk (the WAL's fsync); what arrives meanwhile commits together after it; a failed sync acknowledges nothing", async () => {
  const dir = tempDir("group");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger();
  const ingest = new Ingest({ store, logger, now: () => 1000 });
  const queue = new IngestQueue({ ingest, store, logger });
  const syncs: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const realSync = store.sync.bind(store);
  store.sync = () => new Promise((resolve, reject) => syncs.push({ resolve: () => realSync().then(resolve, reject), reject }));
  const answered: string[] = [];
  const submit = (seq: number) => queue.submit({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", seq), clientId: "s-1" }).then((o) => (answered.push(`${seq} ${o.kind}`), o));
  const first = submit(1);
  await waitFor("the first group's sync to be asked for", () => syncs.length === 1);
  assert.ok(store.find("s-1", 1), "committed");
  assert.equal(answered, [], "but not answered before its sync");
  // The event loop goes on meanwhile (this test runs on it); publishes arriving now wait for the sync, to be one group.
  const later = [submit(2), submit(3)];
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal([store.find("s-1", 2), syncs.length], [undefined, 1]);
  assert.equal([queue.stats().awaitingCommit, queue.stats().awaitingSync], [2, 1], "what waits, as the stats show it");
  syncs[0].resolve();
  assert.is((await first).kind, "stored");
  await waitFor("the second group's sync", () => syncs.length === 2);
  assert.ok(store.find("s-1", 2) && store.find("s-1", 3), "2 and 3 committed in one group");
  assert.is(queue.stats().commits, 2);
  syncs[1].reject(new Error("EIO: the disk said no"));
  assert.equal((await Promise.all(later)).map((o) => o.kind), ["failed", "failed"]);
  assert.equal(answered.slice(0, 3), ["1 stored", "2 failed", "3 failed"]);
  assert.equal([queue.stats().failedSyncs, queue.stats().awaitingCommit, queue.stats().awaitingSync], [1, 0, 0]);
  assert.ok(logger.lines.some((l) => l.level === "error" && /could not sync 2 committed publishes to disk/.test(String(l.msg))));
  // Health hears of it until a sync succeeds; a commit succeeding meanwhile does not clear it.
  assert.equal(ingest.commitFailure(), { since: 1000, error: "committed, but could not sync to disk: EIO: the disk said no" });
  assert.equal(assessHealth({ storeOpen: true, mqttListening: true, relayFailingSince: null, storeCommitFailure: ingest.commitFailure(), now: 4000 }), {
    status: "degraded",
    reasons: ["store cannot commit for 3000 ms (committed, but could not sync to disk: EIO: the disk said no): publishes are not acknowledged, devices keep them"],
  });
  const fourth = submit(4);
  await waitFor("the third group's sync", () => syncs.length === 3);
  assert.ok(store.find("s-1", 4), "committed");
  assert.ok(ingest.commitFailure() !== null, "a commit is not a sync");
  syncs[2].resolve();
  assert.is((await fourth).kind, "stored");
  assert.is(ingest.commitFailure(), null, "a sync succeeded: health is ok again");
  store.sync = realSync;
  store.close();
  dir.remove();
});

test("the store syncs for real: a sync resolves after commits, and one sync serves the callers that asked while it ran", async () => {
  const dir = tempDir("group");
  const store = ObservationStore.open(dir.path);
  const ingest = new Ingest({ store, logger: createMemoryLogger(), now: () => 1000 });
  const queue = new IngestQueue({ ingest, store, logger: createMemoryLogger() });
  const outcomes = await Promise.all(range(1, 50).map((seq) => queue.submit({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", seq), clientId: "s-1" })));
  assert.ok(outcomes.every((o) => o.kind === "stored"));
  await Promise.all([store.sync(), store.sync(), store.sync()]);
  assert.equal(store.durability(), { journalMode: "wal", synchronous: 1 });
  store.close();
  await store.sync().then(() => assert.unreachable("a closed store cannot sync"), (e: Error) => assert.match(e.message, /closed/));
  dir.remove();
});

test("a publish whose commit fails gets no PUBACK and its client is dropped; everything acknowledged is stored; others go on", async () => {
  await withOutboxGateway(["s-1", "s-2"], { ...unlimited, connector: memoryConnector() }, async (gateway) => {
    const reader = new Database(gateway.store.path, { readonly: true });
    const bystander = await device(gateway.mqttPort!, "s-2");
    const append = gateway.store.append.bind(gateway.store);
    const appendAll = gateway.store.appendAll.bind(gateway.store);
    const bad = (obs: { sensorId: string; seq: number }) => obs.sensorId === "s-1" && obs.seq === 3;
    gateway.store.append = (obs, at) => {
      if (bad(obs)) throw new Error("disk I/O error");
      return append(obs, at);
    };
    gateway.store.appendAll = (list, at) => {
      if (list.some(bad)) throw new Error("disk I/O error");
      return appendAll(list, at);
    };
    const client = await device(gateway.mqttPort!, "s-1");
    const seen = checkEachPuback(client, reader, "s-1", publishSeqs(client, "s-1", range(1, 5)));
    await within("the publisher to be disconnected", client.closed);
    assert.not.ok(seen.acked.includes(3), "no PUBACK for the publish that was not committed");
    assert.equal(seen.missing, [], "every PUBACK it got is for a committed row");
    assert.ok(gateway.stats().ingest.failed >= 1);
    assert.ok(bystander.connected);
    await bystander.puback(bystander.publish(uplinkTopic("s-2"), obsPayload("s-2", 1)));

    gateway.store.append = append;
    gateway.store.appendAll = appendAll;
    const retry = await device(gateway.mqttPort!, "s-1");
    const again = checkEachPuback(retry, reader, "s-1", publishSeqs(retry, "s-1", range(1, 5)));
    await waitFor("5 PUBACKs on retry", () => again.acked.length === 5);
    assert.equal(range(1, 5).map((seq) => gateway.store.find("s-1", seq)?.observation.seq), range(1, 5));
    reader.close();
    await retry.end();
    await bystander.end();
  });
});

test("a device's retries never reach the cloud twice: the relay sends each (sensor, seq) once", async () => {
  const connector = memoryConnector();
  await withOutboxGateway(["s-1"], { ...unlimited, connector }, async (gateway) => {
    const reader = new Database(gateway.store.path, { readonly: true });
    const client = await device(gateway.mqttPort!, "s-1");
    const first = checkEachPuback(client, reader, "s-1", publishSeqs(client, "s-1", range(1, 20)));
    await waitFor("20 PUBACKs", () => first.acked.length === 20);
    await waitFor("20 relayed", () => gateway.stats().relay.relayed === 20);
    // The device lost its PUBACKs (say) and sends everything again, then one new observation.
    const again = checkEachPuback(client, reader, "s-1", publishSeqs(client, "s-1", range(1, 21)));
    await waitFor("21 PUBACKs", () => again.acked.length === 21);
    await waitFor("seq 21 relayed", () => connector.batches.flat().some((o) => o.seq === 21));
    const sent = connector.batches.flat().map((o) => `${o.sensorId}/${o.seq}`);
    assert.is(new Set(sent).size, sent.length, "no (sensor, seq) sent twice");
    assert.is(sent.length, 21);
    assert.is(gateway.stats().ingest.duplicate, 20);
    assert.is(gateway.stats().outbox.depth, 0);
    reader.close();
    await client.end();
  });
});

test.run();
