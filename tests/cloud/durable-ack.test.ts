/*
 * The reference cloud acknowledges only what is on disk: it commits at
 * synchronous=NORMAL and answers once the store's sync (the WAL's fsync, on
 * a thread of its own, shared by the batches committed meanwhile) is done;
 * and its WAL goes back into the database on a worker thread, not inside a
 * request's commit. Real cloud, real SQLite file, HTTP on 127.0.0.1.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { CLOUD_STORE_FILE } from "../../simulator/cloud/cloud-store.js";
import { call } from "../support/cloud-http.js";
import * as grpc from "@grpc/grpc-js";
import { cloudClients, ConsumeStream, temperatureRead } from "../support/cloud-grpc.js";
import { observation, tempDir, waitFor, within } from "../support/test-helpers.js";

async function withCloud(run: (cloud: Cloud, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir("cloud-durable");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger("cloud") });
  try {
    await run(cloud, dir.path);
  } finally {
    await cloud.close();
    dir.remove();
  }
}

/** Holds each of the store's syncs until the test lets it go (to the real one) or fails it. */
function heldSyncs(cloud: Cloud) {
  const syncs: Array<{ release: () => void; fail: (e: Error) => void }> = [];
  const real = cloud.store.sync.bind(cloud.store);
  cloud.store.sync = () => new Promise<void>((resolve, reject) => syncs.push({ release: () => void real().then(resolve, reject), fail: reject }));
  return { syncs, restore: () => (cloud.store.sync = real) };
}

const post = (cloud: Cloud, ...observations: unknown[]) => call(cloud.url, "POST", "/api/v1/observations", { observations }, undefined, GATEWAY_TOKEN);

test("a POST is answered only once its commit is synced to disk; a failed sync answers 500 and acks nothing, and the resend is acked", async () => {
  await withCloud(async (cloud) => {
    assert.equal(cloud.store.durability(), { journalMode: "wal", synchronous: 1 }, "NORMAL: the fsync is sync()'s, off the event loop");
    const held = heldSyncs(cloud);
    let answered = false;
    const first = post(cloud, observation("s-1", 1)).then((a) => ((answered = true), a));
    await waitFor("the first batch's sync to be asked for", () => held.syncs.length === 1);
    assert.is(cloud.store.counts().observations, 1, "committed");
    // The cloud's event loop is free meanwhile: it answers another request (a read) while the POST waits.
    assert.is((await call(cloud.url, "GET", "/healthz", undefined, undefined, null)).status, 200);
    assert.is(answered, false, "but not answered before its sync");
    held.syncs[0].release();
    const ack = await within("the first answer", first);
    assert.equal([ack.status, ack.body.acked], [200, [{ sensorId: "s-1", seq: 1 }]]);

    const second = post(cloud, observation("s-1", 2));
    await waitFor("the second batch's sync", () => held.syncs.length === 2);
    held.syncs[1].fail(new Error("EIO: the disk said no"));
    const refused = await within("the second answer", second);
    assert.is(refused.status, 500);
    assert.is(refused.body.acked, undefined, "nothing acked");
    held.restore();
    const resend = await post(cloud, observation("s-1", 2));
    assert.equal([resend.status, resend.body.acked, resend.body.duplicates], [200, [{ sensorId: "s-1", seq: 2 }], 1], "committed before, acked now");
    assert.is(cloud.store.counts().observations, 2);
  });
});

test("batches in flight together are all committed while the first one's sync is outstanding (the event loop does not wait on the disk), each answered after its sync", async () => {
  await withCloud(async (cloud) => {
    const held = heldSyncs(cloud);
    const answers = [1, 2, 3, 4].map((n) => post(cloud, observation(`s-${n}`, 1)));
    await waitFor("every batch committed while the first sync is held", () => cloud.store.counts().observations === 4);
    assert.is(held.syncs.length, 4, "each batch asked for its sync, none answered");
    held.restore();
    for (const s of held.syncs) s.release();
    assert.equal((await within("the answers", Promise.all(answers))).map((a) => a.status), [200, 200, 200, 200]);
  });
});

test("over gRPC too: a ConsumeEvent's ack waits for its sync; a failed sync acks nothing and ends the stream with INTERNAL; the resend is acked", async () => {
  await withCloud(async (cloud) => {
    const clients = cloudClients(cloud.grpcTarget);
    try {
      const held = heldSyncs(cloud);
      const stream = ConsumeStream.open(clients);
      assert.is((await stream.next(1))[0].message, "start");
      stream.send(temperatureRead("s-1", 1, 21));
      await waitFor("the event's sync to be asked for", () => held.syncs.length === 1);
      assert.is(cloud.store.counts().observations, 1, "committed");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stream.acks(), [], "no ack before its sync");
      held.syncs[0].release();
      assert.equal(await stream.waitAcks(1), ["Sensor|s-1#1"]);

      stream.send(temperatureRead("s-1", 2, 22));
      await waitFor("the second event's sync", () => held.syncs.length === 2);
      held.syncs[1].fail(new Error("EIO: the disk said no"));
      assert.is((await stream.ended()).code, grpc.status.INTERNAL);
      assert.equal(stream.acks(), ["Sensor|s-1#1"], "the event whose sync failed is not acked");
      held.restore();

      const again = ConsumeStream.open(clients);
      again.send(temperatureRead("s-1", 2, 22));
      assert.equal(await again.waitAcks(1), ["Sensor|s-1#2"], "committed before, acked now");
      assert.is(cloud.store.counts().observations, 2);
      again.call.end();
    } finally {
      clients.close();
    }
  });
});

test("the WAL goes back into the database on a worker thread: the database file alone holds what was acknowledged; closing removes the WAL", async () => {
  const dir = tempDir("cloud-checkpoint");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger("cloud") });
  try {
    const batch = Array.from({ length: 50 }, (_, i) => observation("s-1", i + 1));
    assert.is((await post(cloud, ...batch)).status, 200);
    // Far fewer pages than the autocheckpoint's bound: only the worker copies them back.
    await waitFor("a checkpoint by the worker", () => cloud.store.checkpoints().checkpoints >= 1, 10_000);
    const copy = tempDir("cloud-checkpoint-copy");
    copyFileSync(join(dir.path, CLOUD_STORE_FILE), join(copy.path, CLOUD_STORE_FILE));
    const db = new Database(join(copy.path, CLOUD_STORE_FILE), { readonly: true });
    assert.is((db.prepare("SELECT COUNT(*) AS n FROM observations").get() as { n: number }).n, 50, "in the database file, without its WAL");
    db.close();
    copy.remove();
    assert.equal(cloud.store.checkpoints().failures, 0);
  } finally {
    await cloud.close();
  }
  assert.not.ok(existsSync(join(dir.path, `${CLOUD_STORE_FILE}-wal`)), "the store's connection closed last and removed its WAL");
  dir.remove();
});

test.run();
