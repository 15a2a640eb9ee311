import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { MAX_QUARANTINED_BYTES, ObservationStore, SCHEMA_VERSION, STORE_FILE, StoreVersionError } from "../../../hosts/gateway/store/observation-store.js";
import { MIGRATIONS } from "../../../hosts/gateway/store/schema.js";
import type { BootAnchor } from "../../../hosts/gateway/store/clock-map.js";
import { withStore } from "../../support/temp-store.js";
import { observation, tempDir, waitFor } from "../../support/test-helpers.js";
import { WALL } from "../../support/gateway-records.js";

const counts = (observations: number, unrelayed: number, rejected = 0, untimed = observations, anchors = 0) => ({ observations, unrelayed, untimed, anchors, rejected });

function deviceAnchor(sensorId: string, boot: number, offsetMs: number): BootAnchor {
  return { sensorId, boot, source: "device", offsetMs, uptimeMs: 0, wallMs: offsetMs, receivedAt: offsetMs };
}


test("the store opens in WAL mode with synchronous=NORMAL (its sync() is FULL's fsync, off the event loop) and the current schema version", () => {
  withStore((store, dir) => {
    // synchronous is per connection, so it is read from the store's own: NORMAL is 1.
    assert.equal(store.durability(), { journalMode: "wal", synchronous: 1 });
    const db = new Database(join(dir, STORE_FILE), { readonly: true });
    assert.is(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    db.close();
  });
});

test("the WAL goes back into the database on a worker thread, not in a commit: the database file alone holds what was committed; closing removes the WAL", async () => {
  const dir = tempDir("store-checkpoint");
  const store = ObservationStore.open(dir.path);
  try {
    store.transaction(() => {
      for (let seq = 1; seq <= 50; seq++) store.append(observation("s-1", seq), 1000 + seq);
    });
    // Far fewer pages than WAL_CHECKPOINT_PAGES: a commit would not have checkpointed them.
    await waitFor("a checkpoint by the worker", () => store.checkpoints().checkpoints >= 1, 10_000);
    const copy = tempDir("store-checkpoint-copy");
    copyFileSync(join(dir.path, STORE_FILE), join(copy.path, STORE_FILE));
    const db = new Database(join(copy.path, STORE_FILE), { readonly: true });
    assert.is((db.prepare("SELECT COUNT(*) AS n FROM observations").get() as { n: number }).n, 50, "in the database file, without its WAL");
    db.close();
    copy.remove();
    assert.equal(store.checkpoints().failures, 0);
  } finally {
    store.close();
  }
  assert.not.ok(existsSync(join(dir.path, `${STORE_FILE}-wal`)), "the store's connection closed last and removed its WAL");
  dir.remove();
});

test("append stores an observation, with or without a time, and returns it unchanged", () => {
  withStore((store) => {
    const obs = { ...observation("s-1", 7), time: WALL, timeSource: "gateway" as const };
    assert.is(store.append(obs, 1000), "stored");
    assert.is(store.append(observation("s-1", 8), 1000), "stored");
    const found = store.find("s-1", 7);
    assert.equal(found?.observation, obs);
    assert.is(found?.receivedAt, 1000);
    assert.is(found?.relayedAt, null);
    assert.equal(store.find("s-1", 8)?.observation, observation("s-1", 8));
    assert.equal(store.counts(), counts(2, 2, 0, 1));
  });
});

test("a retry is a duplicate whatever time the gateway gave either copy: only the device's content counts", () => {
  withStore((store) => {
    store.append(observation("s-1", 1), 1000);
    assert.is(store.append({ ...observation("s-1", 1), time: WALL, timeSource: "device" }, 2000), "duplicate");
    assert.is(store.find("s-1", 1)?.observation.time, undefined);
  });
});

test("recordAnchor keeps the first device anchor of a boot and times only that boot's unrelayed rows", () => {
  withStore((store) => {
    store.append({ ...observation("s-1", 1), boot: 3 }, 1);
    store.append({ ...observation("s-1", 2), boot: 3 }, 2);
    store.append({ ...observation("s-1", 3), boot: 4 }, 3);
    store.markRelayed(store.unrelayed(1), 10);
    assert.equal(store.recordAnchor(deviceAnchor("s-1", 3, WALL)), { decision: "adopt", filled: 1, corrected: 0 });
    assert.equal(store.recordAnchor(deviceAnchor("s-1", 3, WALL + 5)), { decision: "keep", filled: 0, corrected: 0 });
    assert.equal(store.anchor("s-1", 3), deviceAnchor("s-1", 3, WALL));
    assert.is(store.find("s-1", 1)?.observation.time, undefined);
    assert.is(store.find("s-1", 2)?.observation.time, WALL + 2_000);
    assert.is(store.find("s-1", 3)?.observation.time, undefined);
    assert.equal(store.counts(), counts(3, 2, 0, 2, 1));
  });
});

test("markRelayed records the time a row was sent with, even if an anchor timed it while in flight", () => {
  withStore((store) => {
    store.append(observation("s-1", 1), 1);
    store.append(observation("s-1", 2), 2);
    const inFlight = store.unrelayed(1);
    store.recordAnchor(deviceAnchor("s-1", 1, WALL));
    assert.is(store.markRelayed(inFlight, 10), 1);
    assert.is(store.find("s-1", 1)?.observation.time, undefined, "the cloud got it without a time");
    assert.is(store.find("s-1", 2)?.observation.time, WALL + 2_000);
  });
});

test("the same (sensorId, seq) with the same content is a duplicate, not an error, and stored once", () => {
  withStore((store) => {
    assert.is(store.append(observation("s-1", 1), 1000), "stored");
    assert.is(store.append(observation("s-1", 1), 2000), "duplicate");
    assert.is(store.counts().observations, 1);
    assert.is(store.find("s-1", 1)?.receivedAt, 1000, "the first receipt is kept");
  });
});

test("the same (sensorId, seq) with different content is a conflict and does not replace the stored one", () => {
  withStore((store) => {
    store.append(observation("s-1", 1, 20), 1000);
    assert.is(store.append(observation("s-1", 1, 25), 2000), "conflict");
    assert.is(store.find("s-1", 1)?.observation.readings[0].value, 20);
    assert.is(store.counts().observations, 1);
  });
});

test("the same seq from different sensors are different observations", () => {
  withStore((store) => {
    assert.is(store.append(observation("a", 1), 1), "stored");
    assert.is(store.append(observation("b", 1), 1), "stored");
    assert.is(store.counts().observations, 2);
  });
});

test("quarantine keeps the refused bytes, truncated to the limit, with their true size", () => {
  withStore((store) => {
    const small = new Uint8Array([1, 2, 3]);
    const big = new Uint8Array(MAX_QUARANTINED_BYTES + 500).fill(7);
    store.quarantine({ receivedAt: 5, clientId: "dev", topic: "x/y", reason: "malformed", field: "record", detail: "not CBOR", payload: small });
    store.quarantine({ receivedAt: 6, clientId: null, topic: "t".repeat(1000), reason: "too-large", field: "record", detail: "big", payload: big });
    const [second, first] = store.rejected();
    assert.equal([...first.payload], [1, 2, 3]);
    assert.is(first.clientId, "dev");
    assert.is(first.reason, "malformed");
    assert.is(first.field, "record");
    assert.is(second.size, MAX_QUARANTINED_BYTES + 500);
    assert.is(second.payload.byteLength, MAX_QUARANTINED_BYTES);
    assert.is(second.topic.length, 256);
    assert.is(second.clientId, null);
    assert.is(store.counts().rejected, 2);
  });
});

test("unrelayed returns the oldest first, up to the limit, and markRelayed removes them from it", () => {
  withStore((store) => {
    for (let seq = 1; seq <= 5; seq++) store.append(observation("s", seq), seq);
    const batch = store.unrelayed(3);
    assert.equal(batch.map((row) => row.observation.seq), [1, 2, 3]);
    assert.is(store.markRelayed(batch, 99), 3);
    assert.is(store.markRelayed(batch, 100), 0, "marking twice changes nothing");
    assert.equal(store.unrelayed(10).map((row) => row.observation.seq), [4, 5]);
    assert.is(store.find("s", 1)?.relayedAt, 99);
    assert.equal(store.counts(), counts(5, 2));
    assert.is(store.markRelayed([], 1), 0);
  });
});

test("everything survives close and reopen", () => {
  const dir = tempDir("store");
  let store = ObservationStore.open(dir.path);
  store.append(observation("s", 1), 10);
  store.append(observation("s", 2), 20);
  store.markRelayed(store.unrelayed(1), 30);
  store.recordAnchor(deviceAnchor("s", 2, WALL));
  store.quarantine({ receivedAt: 40, clientId: "c", topic: "t", reason: "bad-topic", field: "topic", detail: "d", payload: new Uint8Array([9]) });
  store.close();
  assert.not.ok(store.isOpen);
  store = ObservationStore.open(dir.path);
  assert.equal(store.counts(), counts(2, 1, 1, 2, 1));
  assert.is(store.unrelayed(10)[0].observation.seq, 2);
  assert.equal(store.anchor("s", 2), deviceAnchor("s", 2, WALL), "anchors survive too");
  assert.is(store.append(observation("s", 2), 50), "duplicate", "the uniqueness survives too");
  store.close();
  dir.remove();
});

test("a store written before clock anchors opens: device_time becomes a device-sourced time", () => {
  const dir = tempDir("store");
  const db = new Database(join(dir.path, STORE_FILE));
  db.exec(MIGRATIONS[0]);
  db.pragma("user_version = 1");
  const insert = db.prepare(
    "INSERT INTO observations (sensor_id, seq, boot, uptime_ms, device_time, readings, received_at, relayed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const readings = JSON.stringify([{ quantity: "temperature", value: 21.5 }]);
  insert.run("s", 1, 1, 1000, WALL, readings, 5, null);
  insert.run("s", 2, 1, 2000, null, readings, 6, 7);
  db.close();
  const store = ObservationStore.open(dir.path);
  assert.equal(store.find("s", 1)?.observation, { ...observation("s", 1), time: WALL, timeSource: "device" });
  assert.equal(store.find("s", 2)?.observation, observation("s", 2));
  assert.is(store.find("s", 2)?.relayedAt, 7);
  assert.equal(store.counts(), counts(2, 1, 0, 1, 0));
  assert.is(store.append(observation("s", 1), 8), "duplicate", "old rows still recognise a retry");
  store.close();
  const reader = new Database(join(dir.path, STORE_FILE), { readonly: true });
  assert.is(reader.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  reader.close();
  dir.remove();
});

test("a store from a newer schema is refused rather than guessed at", () => {
  const dir = tempDir("store");
  ObservationStore.open(dir.path).close();
  const db = new Database(join(dir.path, STORE_FILE));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => ObservationStore.open(dir.path), (e: unknown) => e instanceof StoreVersionError && /newer/.test((e as Error).message));
  dir.remove();
});

test("a closed store throws instead of silently dropping", () => {
  const dir = tempDir("store");
  const store = ObservationStore.open(dir.path);
  store.close();
  assert.throws(() => store.append(observation("s", 1), 1));
  dir.remove();
});

test.run();
