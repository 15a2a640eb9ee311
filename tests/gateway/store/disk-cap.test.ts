import { test } from "uvu";
import * as assert from "uvu/assert";
import { DiskCap } from "../../../hosts/gateway/store/disk-cap.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { downConnector } from "../../support/gateway-fakes.js";
import { obsPayload } from "../../support/gateway-records.js";
import { device, withOutboxGateway } from "../../support/outbox-gateway.js";
import { observation, tempDir, waitFor } from "../../support/test-helpers.js";
import Database from "better-sqlite3";
import { join } from "node:path";

function setup() {
  const dir = tempDir("disk-cap");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger("outbox");
  return {
    store,
    logger,
    fill(sensorId: string, from: number, count: number) {
      store.transaction(() => {
        for (let seq = from; seq < from + count; seq++) store.append(observation(sensorId, seq), 1000 + seq);
      });
    },
    relayFirst(count: number) {
      store.markRelayed(store.unrelayed(count), 5000);
    },
    done() {
      store.close();
      dir.remove();
    },
  };
}

test("under the cap nothing is evicted", () => {
  const t = setup();
  t.fill("s-1", 1, 100);
  const cap = new DiskCap({ store: t.store, logger: t.logger, maxBytes: 10 * 1024 * 1024 });
  assert.is(cap.enforce(false), 0);
  assert.equal(cap.counters(), { evictedRelayed: 0, evictedUnrelayed: 0, quarantineEvicted: 0 });
  assert.equal(t.logger.lines, []);
  t.done();
});

test("the bytes the cap counts are the pages in use, free pages not counted, as SQLite itself reports them", () => {
  const dir = tempDir("disk-cap-bytes");
  const store = ObservationStore.open(dir.path);
  try {
    store.transaction(() => {
      for (let seq = 1; seq <= 3000; seq++) store.append(observation("s-1", seq), 1000 + seq);
    });
    store.markRelayed(store.unrelayed(2000), 5000);
    new DiskCap({ store, logger: createMemoryLogger("cap"), maxBytes: Math.floor(store.usedBytes() * 0.5) }).enforce(false);
    // A connection of its own: it sees what the store committed, its WAL included.
    const reader = new Database(join(dir.path, "observations.db"), { readonly: true });
    try {
      const pragma = (name: string) => reader.pragma(name, { simple: true }) as number;
      assert.ok(pragma("freelist_count") > 0, "eviction left free pages");
      assert.is(store.usedBytes(), (pragma("page_count") - pragma("freelist_count")) * pragma("page_size"));
    } finally {
      reader.close();
    }
  } finally {
    store.close();
    dir.remove();
  }
});

test("over the cap, the oldest relayed rows go first, and unrelayed rows are kept while relayed ones suffice", () => {
  const t = setup();
  t.fill("s-1", 1, 3000);
  t.relayFirst(2000);
  const used = t.store.usedBytes();
  const cap = new DiskCap({ store: t.store, logger: t.logger, maxBytes: Math.floor(used * 0.8) });
  assert.is(cap.enforce(false), 0, "no unrelayed row evicted");
  const { evictedRelayed, evictedUnrelayed } = cap.counters();
  assert.ok(evictedRelayed > 0);
  assert.is(evictedUnrelayed, 0);
  assert.ok(t.store.usedBytes() <= used * 0.8, "back under the cap");
  assert.is(t.store.find("s-1", 1), undefined, "the oldest went first");
  assert.ok(t.store.find("s-1", 2000), "the newest relayed row is still there");
  assert.is(t.store.unrelayedCount(), 1000);
  assert.ok(t.logger.lines.some((l) => l.level === "info" && /evicted \d+ relayed observations/.test(String(l.msg))));
  t.done();
});

test("when relayed rows are not enough, the oldest unrelayed ones go too: counted, and logged with the sensors and seqs lost", () => {
  const t = setup();
  t.fill("s-1", 1, 1000);
  t.relayFirst(500);
  t.fill("s-2", 1, 1000);
  t.fill("s-1", 1001, 1000);
  const used = t.store.usedBytes();
  // 60%: the file also holds empty tables and indexes that eviction cannot shrink; at this cap the
  // eviction reaches into s-2 but stops before s-1's newest rows, so the lost ranges below are exact.
  const cap = new DiskCap({ store: t.store, logger: t.logger, maxBytes: Math.floor(used * 0.6) });
  const evictedUnrelayed = cap.enforce(false);
  assert.ok(evictedUnrelayed > 0);
  assert.equal(cap.counters(), { evictedRelayed: 500, evictedUnrelayed, quarantineEvicted: 0 });
  assert.is(t.store.unrelayedCount(), 2500 - evictedUnrelayed);
  assert.is(t.store.find("s-1", 501), undefined, "the oldest unrelayed row went");
  assert.ok(t.store.find("s-1", 2000), "the newest stayed");
  const warn = t.logger.lines.find((l) => l.level === "warn");
  assert.ok(warn, "a warning says unrelayed data was lost");
  assert.match(String(warn!.msg), new RegExp(`evicted 500 relayed and ${evictedUnrelayed} UNRELAYED observations, lost: s-1 seq 501\\.\\.1000 \\(500\\), s-2 seq 1\\.\\.`));
  assert.equal(warn!.evictedUnrelayed, evictedUnrelayed);
  t.done();
});

test("the quarantine is capped by rows, oldest first, and counted", () => {
  const t = setup();
  for (let i = 0; i < 30; i++) {
    t.store.quarantine({ receivedAt: i, clientId: "dev-1", topic: "t", reason: "malformed", field: "record", detail: `#${i}`, payload: new Uint8Array(4) });
  }
  const cap = new DiskCap({ store: t.store, logger: t.logger, maxQuarantineRows: 10 });
  assert.is(cap.enforce(false), 0);
  assert.is(t.store.counts().rejected, 30, "only checked after commits that quarantined something");
  cap.enforce(true);
  assert.is(t.store.counts().rejected, 10);
  assert.is(t.store.rejected(100).at(-1)!.detail, "#20", "the newest ten are kept");
  assert.is(cap.counters().quarantineEvicted, 20);
  t.done();
});

test("the gateway enforces outboxMaxBytes after commits: depth and stats follow the evictions", async () => {
  await withOutboxGateway(["s-1"], { rateLimitPerSecond: Infinity, connector: downConnector(), outboxMaxBytes: 256 * 1024 }, async (gateway) => {
    const client = await device(gateway.mqttPort!, "s-1");
    for (let from = 1; from <= 6000; from += 500) {
      const ids = client.publishAll(Array.from({ length: 500 }, (_, i) => ({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", from + i) })));
      await client.puback(ids.at(-1)!);
    }
    const outbox = await waitFor("an eviction", () => gateway.stats().outbox.evictedUnrelayed > 0 && gateway.stats().outbox);
    assert.ok(outbox.usedBytes <= 256 * 1024, `${outbox.usedBytes} bytes used`);
    assert.is(outbox.depth, 6000 - outbox.evictedUnrelayed);
    assert.is(outbox.depth, gateway.store.unrelayedCount());
    assert.ok(gateway.logger.lines.some((l) => l.level === "warn" && /UNRELAYED observations, lost: s-1 seq 1\.\./.test(String(l.msg))));
    await client.end();
  });
});

test.run();
