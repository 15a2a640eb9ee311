import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { join } from "node:path";
import { MAX_QUARANTINED_BYTES, ObservationStore, SCHEMA_VERSION, STORE_FILE, StoreVersionError } from "../hosts/gateway/observation-store.js";
import { observation, tempDir } from "./support/test-helpers.js";

function withStore(run: (store: ObservationStore, dir: string) => void): void {
  const dir = tempDir("store");
  const store = ObservationStore.open(dir.path);
  try {
    run(store, dir.path);
  } finally {
    store.close();
    dir.remove();
  }
}

test("the store opens in WAL mode with synchronous=FULL and the current schema version", () => {
  withStore((store, dir) => {
    // synchronous is per connection, so it is read from the store's own: FULL is 2.
    assert.equal(store.durability(), { journalMode: "wal", synchronous: 2 });
    const db = new Database(join(dir, STORE_FILE), { readonly: true });
    assert.is(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    db.close();
  });
});

test("append stores an observation and returns it unchanged", () => {
  withStore((store) => {
    const obs = { ...observation("s-1", 7), time: 1_795_000_000_000 };
    assert.is(store.append(obs, 1000), "stored");
    const found = store.find("s-1", 7);
    assert.equal(found?.observation, obs);
    assert.is(found?.receivedAt, 1000);
    assert.is(found?.relayedAt, null);
    assert.equal(store.counts(), { observations: 1, unrelayed: 1, rejected: 0 });
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
    assert.is(store.markRelayed(batch.map((row) => row.id), 99), 3);
    assert.is(store.markRelayed(batch.map((row) => row.id), 100), 0, "marking twice changes nothing");
    assert.equal(store.unrelayed(10).map((row) => row.observation.seq), [4, 5]);
    assert.is(store.find("s", 1)?.relayedAt, 99);
    assert.equal(store.counts(), { observations: 5, unrelayed: 2, rejected: 0 });
    assert.is(store.markRelayed([], 1), 0);
  });
});

test("everything survives close and reopen", () => {
  const dir = tempDir("store");
  let store = ObservationStore.open(dir.path);
  store.append(observation("s", 1), 10);
  store.append(observation("s", 2), 20);
  store.markRelayed([store.unrelayed(1)[0].id], 30);
  store.quarantine({ receivedAt: 40, clientId: "c", topic: "t", reason: "bad-topic", field: "topic", detail: "d", payload: new Uint8Array([9]) });
  store.close();
  assert.not.ok(store.isOpen);
  store = ObservationStore.open(dir.path);
  assert.equal(store.counts(), { observations: 2, unrelayed: 1, rejected: 1 });
  assert.is(store.unrelayed(10)[0].observation.seq, 2);
  assert.is(store.append(observation("s", 2), 50), "duplicate", "the uniqueness survives too");
  store.close();
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
