/*
 * The store's figures (counts(), queries.sensorSummaries()) are kept in
 * memory rather than counted per call: after every path that changes rows
 * they must equal what plain SQL over the same file says.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { join } from "node:path";
import { DiskCap } from "../../../hosts/gateway/store/disk-cap.js";
import { ObservationStore, STORE_FILE } from "../../../hosts/gateway/store/observation-store.js";
import { MIGRATIONS, toStored, type ObservationRow } from "../../../hosts/gateway/store/schema.js";
import { openDurableDatabase } from "../../../hosts/sqlite/durable-database.js";
import type { BootAnchor } from "../../../hosts/gateway/store/clock-map.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { WALL } from "../../support/gateway-records.js";
import { withStore } from "../../support/temp-store.js";
import { observation, tempDir } from "../../support/test-helpers.js";

/** What SQL says of the file, on a connection of its own. */
function fromSql(dir: string) {
  const db = new Database(join(dir, STORE_FILE), { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const counts = {
      observations: n("SELECT COUNT(*) AS n FROM observations"),
      unrelayed: n("SELECT COUNT(*) AS n FROM observations WHERE relayed_at IS NULL"),
      untimed: n("SELECT COUNT(*) AS n FROM observations WHERE time IS NULL"),
      anchors: n("SELECT COUNT(*) AS n FROM clock_anchors"),
      rejected: n("SELECT COUNT(*) AS n FROM rejected"),
    };
    const groups = db
      .prepare("SELECT sensor_id, COUNT(*) AS n, MAX(seq) AS max_seq, MAX(id) AS last_id FROM observations GROUP BY sensor_id ORDER BY sensor_id")
      .all() as { sensor_id: string; n: number; max_seq: number; last_id: number }[];
    const summaries = groups.map((g) => {
      const { observation: newest, receivedAt } = toStored(db.prepare("SELECT * FROM observations WHERE id = ?").get(g.last_id) as ObservationRow);
      return { sensorId: g.sensor_id, observations: g.n, lastSeq: g.max_seq, lastReceivedAt: receivedAt, lastTime: newest.time ?? null, lastReadings: newest.readings };
    });
    return { counts, summaries };
  } finally {
    db.close();
  }
}

function agrees(store: ObservationStore, dir: string, after: string): void {
  const sql = fromSql(dir);
  assert.equal(store.counts(), sql.counts, `counts after ${after}`);
  assert.equal(store.queries.sensorSummaries(), sql.summaries, `sensor summaries after ${after}`);
}


const anchor = (sensorId: string, boot: number, source: "device" | "gateway", offsetMs: number): BootAnchor => ({
  sensorId, boot, source, offsetMs, uptimeMs: 0, wallMs: offsetMs, receivedAt: offsetMs,
});
const refused = (sensorId: string) => ({
  receivedAt: 5, clientId: sensorId, topic: `xsedge/v1/${sensorId}/up`, reason: "conflict", field: "seq", detail: "seq reused", payload: new Uint8Array(3),
});

test("stored, duplicate and conflicting (quarantined) observations, alone and in a batch", () => {
  withStore((store, dir) => {
    agrees(store, dir, "open of an empty store");
    assert.is(store.append(observation("s-1", 1), 1), "stored");
    assert.is(store.append({ ...observation("s-2", 4), time: WALL, timeSource: "gateway" }, 2), "stored");
    agrees(store, dir, "two stores");
    assert.is(store.append(observation("s-1", 1), 3), "duplicate");
    agrees(store, dir, "a duplicate");
    assert.is(store.append(observation("s-1", 1, 30), 4), "conflict");
    store.quarantine(refused("s-1"));
    agrees(store, dir, "a conflict, quarantined");
    store.transaction(() => {
      for (const seq of [2, 3, 1, 9, 5]) {
        if (store.append(observation("s-1", seq, seq === 1 ? 40 : 21.5), 10 + seq) === "conflict") store.quarantine(refused("s-1"));
      }
      store.append(observation("s-3", 1), 20);
    });
    agrees(store, dir, "a batch with a conflict, and a late seq (5 after 9)");
    assert.is(store.queries.sensorSummaries()[0].lastSeq, 9);
    assert.is(store.queries.sensorSummaries()[0].lastReadings[0].value, 21.5);
    assert.is(store.queries.sensorSummaries()[0].lastReceivedAt, 15, "the summary's newest row is the last stored (seq 5), not the highest seq (9)");
    assert.equal(store.queries.recent(2, "s-1").map((row) => row.observation.seq), [9, 5], "a sensor's recent rows go by its seq");
  });
});

test("a group commit that rolls back counts nothing; a savepoint that rolls back counts nothing of its own", () => {
  withStore((store, dir) => {
    store.append(observation("s-1", 1), 1);
    assert.throws(
      () =>
        store.transaction(() => {
          store.append(observation("s-1", 2), 2);
          store.append(observation("s-9", 1), 2);
          store.quarantine(refused("s-1"));
          store.recordAnchor(anchor("s-1", 1, "gateway", WALL));
          throw new Error("disk I/O error");
        }),
      /disk I\/O error/,
    );
    agrees(store, dir, "a rolled-back group commit");
    assert.equal(store.counts(), { observations: 1, unrelayed: 1, untimed: 1, anchors: 0, rejected: 0 });
    store.transaction(() => {
      store.append(observation("s-1", 3), 3);
      try {
        store.transaction(() => {
          store.append(observation("s-4", 1), 3);
          store.recordAnchor(anchor("s-1", 1, "gateway", WALL));
          throw new Error("inner");
        });
      } catch {
        // the savepoint rolled back; the outer transaction goes on
      }
      store.append(observation("s-1", 4), 4);
    });
    agrees(store, dir, "an outer commit around a rolled-back savepoint");
    assert.equal(store.counts(), { observations: 3, unrelayed: 3, untimed: 3, anchors: 0, rejected: 0 });
  });
});

test("anchors that fill untimed rows (some staged in the same transaction), replace, or are kept", () => {
  withStore((store, dir) => {
    store.append(observation("s-1", 1), 1);
    store.append({ ...observation("s-1", 2), boot: 2 }, 2);
    store.markRelayed(store.unrelayed(1), 5);
    store.transaction(() => {
      store.append(observation("s-1", 3), 3);
      assert.equal(store.recordAnchor(anchor("s-1", 1, "gateway", WALL)), { decision: "adopt", filled: 1, corrected: 0 });
      store.append(observation("s-1", 4), 4);
    });
    agrees(store, dir, "an anchor timing a row staged in its own transaction");
    assert.is(store.recordAnchor(anchor("s-1", 1, "device", WALL + 7)).decision, "replace");
    assert.is(store.recordAnchor(anchor("s-1", 1, "gateway", WALL + 9)).decision, "keep");
    assert.is(store.recordAnchor(anchor("s-1", 2, "device", WALL)).filled, 1);
    agrees(store, dir, "anchors replaced, kept and adopted");
    assert.equal(store.counts(), { observations: 4, unrelayed: 3, untimed: 1, anchors: 2, rejected: 0 });
  });
});

test("relay marks, including a row sent untimed that an anchor timed while it was in flight", () => {
  withStore((store, dir) => {
    for (let seq = 1; seq <= 4; seq++) store.append(observation("s-1", seq), seq);
    const inFlight = store.unrelayed(2);
    store.recordAnchor(anchor("s-1", 1, "gateway", WALL));
    agrees(store, dir, "an anchor timing rows in flight");
    assert.is(store.markRelayed(inFlight, 10), 2);
    agrees(store, dir, "the mark of rows sent untimed (untimed again)");
    assert.is(store.markRelayed(store.unrelayed(5), 11), 2);
    assert.is(store.markRelayed(inFlight, 12), 0, "marked twice");
    agrees(store, dir, "every row marked");
    assert.equal(store.counts(), { observations: 4, unrelayed: 0, untimed: 2, anchors: 1, rejected: 0 });
  });
});

test("relay marks of rows sent untimed that no anchor has timed since: still untimed", () => {
  withStore((store, dir) => {
    for (let seq = 1; seq <= 3; seq++) store.append(observation("s-1", seq), seq);
    const inFlight = store.unrelayed(2);
    store.append(observation("s-1", 4), 4);
    assert.is(store.markRelayed(inFlight, 10), 2);
    agrees(store, dir, "the mark of rows sent untimed, none timed since");
    assert.equal(store.counts(), { observations: 4, unrelayed: 2, untimed: 4, anchors: 0, rejected: 0 });
    // Unlike rows an anchor times while they are in flight: marked as sent, they are untimed again.
    const rest = store.unrelayed(5);
    assert.is(store.recordAnchor(anchor("s-1", 1, "gateway", WALL)).filled, 2);
    assert.equal(store.counts().untimed, 2);
    assert.is(store.markRelayed(rest, 11), 2);
    agrees(store, dir, "the mark of rows sent untimed, then timed in flight");
    assert.equal(store.counts(), { observations: 4, unrelayed: 0, untimed: 4, anchors: 1, rejected: 0 });
  });
});

test("eviction of relayed then unrelayed rows, some untimed: a sensor that lost every row has no summary", () => {
  withStore((store, dir) => {
    store.transaction(() => {
      for (let seq = 1; seq <= 30; seq++) {
        if (seq <= 10) store.append(observation("old", seq), seq);
        store.append({ ...observation("busy", seq), ...(seq % 3 === 0 ? { time: WALL + seq, timeSource: "device" as const } : {}) }, seq);
      }
    });
    // busy's newest row is relayed (and evicted first) while its older rows wait for the cloud.
    const newestOfBusy = store.queries.recent(1, "busy");
    store.markRelayed([...store.unrelayed(10), ...newestOfBusy], 100);
    agrees(store, dir, "marks out of id order");
    const first = store.evictOldest(11);
    assert.equal([first.relayed, first.unrelayed], [11, 0]);
    agrees(store, dir, "evicting relayed rows, busy's newest among them");
    const second = store.evictOldest(6);
    assert.equal([second.relayed, second.unrelayed], [0, 6]);
    agrees(store, dir, "evicting unrelayed rows");
    store.evictOldest(4);
    assert.equal(store.queries.sensorSummaries().map((s) => s.sensorId), ["busy"], "old lost every row");
    agrees(store, dir, "a sensor evicted whole");
    store.append(observation("old", 31), 200);
    agrees(store, dir, "the evicted sensor storing again");
  });
});

test("the disk cap's eviction and the quarantine cap keep the figures exact", () => {
  withStore((store, dir) => {
    for (let batch = 0; batch < 4; batch++) {
      store.transaction(() => {
        for (let i = 0; i < 500; i++) store.append(observation(`s-${i % 7}`, batch * 500 + i), i);
        for (let i = 0; i < 10; i++) store.quarantine(refused("s-1"));
      });
    }
    store.markRelayed(store.unrelayed(1200), 50);
    const cap = new DiskCap({ store, logger: createMemoryLogger("cap"), maxBytes: Math.floor(store.usedBytes() * 0.5), maxQuarantineRows: 15 });
    assert.ok(cap.enforce(true) > 0, "unrelayed rows evicted too");
    assert.equal(cap.counters().quarantineEvicted, 25);
    agrees(store, dir, "the disk cap and the quarantine cap");
  });
});

test("reopening the store counts what it holds, and counting goes on from there", () => {
  const dir = tempDir("store-counts");
  try {
    let store = ObservationStore.open(dir.path);
    store.append(observation("s-1", 1), 1);
    store.append(observation("s-2", 1), 1);
    store.recordAnchor(anchor("s-2", 1, "device", WALL));
    store.quarantine(refused("s-1"));
    store.markRelayed(store.unrelayed(1), 2);
    const before = { counts: store.counts(), summaries: store.queries.sensorSummaries() };
    store.close();
    store = ObservationStore.open(dir.path);
    assert.equal({ counts: store.counts(), summaries: store.queries.sensorSummaries() }, before);
    agrees(store, dir.path, "a reopen");
    store.append(observation("s-1", 2), 3);
    agrees(store, dir.path, "a store after a reopen");
    store.close();
  } finally {
    dir.remove();
  }
});

test("a store written before the figures were kept (rows inserted by SQL, no tally) is counted at open", () => {
  const dir = tempDir("store-counts");
  try {
    const old = openDurableDatabase(dir.path, STORE_FILE, MIGRATIONS);
    const insert = old.prepare("INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, readings, received_at) VALUES (?, ?, 1, 0, ?, '[]', 1)");
    for (const [sensorId, seq, time] of [["a", 2, null], ["b", 1, WALL], ["a", 1, WALL]] as const) insert.run(sensorId, seq, time);
    old.close();
    const store = ObservationStore.open(dir.path);
    agrees(store, dir.path, "a migration");
    assert.equal(store.queries.recent(5, "a").map((row) => row.observation.seq), [2, 1]);
    assert.equal(store.queries.sensorSummaries().map((s) => [s.sensorId, s.observations, s.lastSeq]), [["a", 2, 2], ["b", 1, 1]]);
    store.close();
  } finally {
    dir.remove();
  }
});

test.run();
