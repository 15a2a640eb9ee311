/*
 * The rules' side of the store, on a real SQLite file: the shared window of
 * devices' observations the rules read, derived observations (numbered per
 * virtual sensor, never read back by rules, relayed like any other), rows
 * kept at the gateway (out of the outbox, and back in it if their
 * transaction rolls back), and a rule's versions and offset.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { join } from "node:path";
import { InputWindow } from "../../../hosts/gateway/rules/input-window.js";
import { ObservationStore, STORE_FILE } from "../../../hosts/gateway/store/observation-store.js";
import { MIGRATIONS } from "../../../hosts/gateway/store/schema.js";
import type { BootAnchor } from "../../../hosts/gateway/store/clock-map.js";
import { withStore } from "../../support/temp-store.js";
import { observation, tempDir } from "../../support/test-helpers.js";

const anchor = (sensorId: string, boot: number, offsetMs: number): BootAnchor => ({ sensorId, boot, source: "device", offsetMs, uptimeMs: 0, wallMs: offsetMs, receivedAt: offsetMs });

test("the input window: one read from SQLite serves every rule that keeps up; a rule behind it reads SQLite; derived rows are never inputs", () => {
  withStore((store) => {
    store.transaction(() => {
      for (let seq = 1; seq <= 10; seq++) store.append(observation("s-1", seq), 1000 + seq);
    });
    const window = new InputWindow(store, 6);
    const ids = (rows: { observation: { id: number } }[]) => rows.map((r) => r.observation.id);
    assert.equal(ids(window.read(4, 3)), [5, 6, 7]);
    assert.equal(ids(window.read(5, 10)), [6, 7, 8, 9, 10], "from the window, then SQLite for the rest");
    store.rules.appendDerived({ sensorId: "s-1.x", readings: [{ quantity: "temperature", value: 1 }], time: 5 }, 2000, "r");
    store.append(observation("s-1", 11), 2001);
    assert.equal(ids(window.read(10, 10)), [12], "the derived row 11 is not an input");
    assert.equal(ids(window.read(0, 2)), [1, 2], "a rule behind the window reads SQLite");
    assert.equal(ids(window.read(9, 10)), [10, 12], "the window kept its newest rows");
    const [row] = window.read(11, 1);
    assert.equal(row.observation, { id: 12, sensorId: "s-1", seq: 11, time: null, receivedAt: 2001, readings: [{ quantity: "temperature", value: 21.5 }] });
    assert.is(row.readings, '[{"quantity":"temperature","value":21.5}]');
  });
});

test("the input window asks SQLite only for what was committed since it last looked, and not again for the derived rows it passed; a rolled-back row is not counted as committed", () => {
  withStore((store) => {
    store.transaction(() => {
      for (let seq = 1; seq <= 3; seq++) store.append(observation("s-1", seq), 1000 + seq);
    });
    const window = new InputWindow(store, 100);
    let reads = 0;
    const inputsAfter = store.rules.inputsAfter.bind(store.rules);
    store.rules.inputsAfter = (id, limit) => (reads++, inputsAfter(id, limit));
    const ids = (rows: { observation: { id: number } }[]) => rows.map((r) => r.observation.id);
    assert.equal(ids(window.read(0, 10)), [1, 2, 3]);
    assert.is(reads, 1);
    for (let i = 0; i < 5; i++) assert.equal(ids(window.read(3, 10)), []);
    assert.is(reads, 1, "nothing committed since: no query");
    store.transaction(() => {
      for (let i = 0; i < 3; i++) store.rules.appendDerived({ sensorId: "s-1.x", readings: [{ quantity: "temperature", value: i }], time: 5 }, 2000, "r");
    });
    assert.equal(ids(window.read(3, 10)), [], "only derived rows since");
    assert.equal(ids(window.read(3, 10)), []);
    assert.is(reads, 2, "the derived rows are looked past once");
    assert.throws(() => store.transaction(() => {
      store.append(observation("s-1", 4), 3000);
      throw new Error("rolled back");
    }));
    assert.is(store.lastRowId, 6, "the rolled-back row never counted");
    assert.equal(ids(window.read(3, 10)), []);
    assert.is(reads, 2);
    store.append(observation("s-1", 4), 3001);
    assert.equal(ids(window.read(3, 10)), [store.lastRowId]);
    assert.is(reads, 3);
  });
});

test("derived observations: numbered after the virtual sensor's highest seq, owned by their rule, in the outbox for the relay", () => {
  withStore((store) => {
    store.append(observation("s-1", 1), 1);
    const first = store.rules.appendDerived({ sensorId: "s-1.avg", readings: [{ quantity: "temperature", value: 20.5 }], time: 1_700_000_000_000 }, 5, "avg");
    const second = store.transaction(() => store.rules.appendDerived({ sensorId: "s-1.avg", readings: [{ quantity: "temperature", value: 21 }], time: 1_700_000_300_000 }, 6, "avg"));
    assert.equal([first.observation.seq, second.observation.seq], [1, 2]);
    assert.equal(second.observation, { sensorId: "s-1.avg", seq: 2, boot: 0, uptimeMs: 0, readings: [{ quantity: "temperature", value: 21 }], time: 1_700_000_300_000, timeSource: "gateway" });
    assert.is(store.rules.ownerOf("s-1.avg"), "avg");
    assert.is(store.rules.ownerOf("s-1"), null, "a device's");
    assert.is(store.rules.ownerOf("nobody"), undefined);
    assert.equal(store.unrelayed(10).map((r) => r.observation.sensorId), ["s-1", "s-1.avg", "s-1.avg"]);
    assert.is(store.counts().unrelayed, 3);
  });
});

test("rows kept at the gateway leave the outbox; a rollback puts them back, for the relay too", () => {
  withStore((store) => {
    store.transaction(() => {
      for (let seq = 1; seq <= 4; seq++) store.append(observation("s-1", seq), seq);
    });
    assert.equal(store.unrelayed(10).map((r) => r.id), [1, 2, 3, 4], "the relay's tail holds them");
    assert.equal(store.rules.keepLocal([1, 3], 100), [1, 3]);
    assert.equal(store.unrelayed(10).map((r) => r.id), [2, 4]);
    assert.is(store.unrelayedCount(), 2);
    assert.throws(() => store.transaction(() => {
      store.rules.keepLocal([2], 101);
      throw new Error("the commit fails");
    }), /the commit fails/);
    assert.equal(store.unrelayed(10).map((r) => r.id), [2, 4], "row 2 is unrelayed again, and the relay reads it");
    assert.is(store.unrelayedCount(), 2);
    store.markRelayed(store.unrelayed(1), 200);
    assert.equal(store.rules.keepLocal([2, 4], 300), [4], "a relayed row is not kept local after the fact");
  });
});

test("a rule's versions and offset: pending until activated, one active, superseded ones kept for rollback, pruned beyond the newest", () => {
  withStore((store) => {
    const version = (hash: string) => store.rules.addVersion({ rule: "r", hash, file: "r.ts", source: "s", bundle: "b", sourceMap: "{}", summary: "{}", deployedAt: 1, detail: null });
    assert.is(version("a"), 1);
    store.rules.activate("r", 1, 10, null, 2);
    assert.is(version("b"), 2);
    assert.is(store.rules.failInterrupted("interrupted"), 1, "version 2 never took over");
    assert.is(version("c"), 3);
    store.rules.activate("r", 3, 20, '{"s":1}', 3);
    store.rules.progress("r", 25, '{"s":2}', 4);
    assert.equal(store.rules.versions("r").map((v) => [v.version, v.status]), [[1, "superseded"], [2, "failed"], [3, "active"]]);
    assert.equal(store.rules.get("r"), { name: "r", version: 3, enabled: true, position: 25, state: '{"s":2}', disabledReason: null, updatedAt: 4 });
    store.rules.setEnabled("r", false, "why not", 5);
    assert.equal([store.rules.get("r")!.enabled, store.rules.get("r")!.disabledReason], [false, "why not"]);
    store.rules.prune("r", 1);
    assert.equal(store.rules.versions("r").map((v) => v.version), [3], "the active version is always kept");
  });
});

test("a device's clock anchor times that device's rows of its boot, never a rule's derived rows under the same id (they have no boot)", () => {
  withStore((store) => {
    // A derived row is boot 0, timed by the gateway; a device that later publishes under that id with boot 0 brings anchors.
    const derived = store.rules.appendDerived({ sensorId: "v", readings: [{ quantity: "temperature", value: 1 }], time: 5000 }, 5000, "r");
    store.append({ ...observation("v", 2), boot: 0, uptimeMs: 700 }, 6000);
    assert.equal(store.recordAnchor(anchor("v", 0, 1_000_000)), { decision: "adopt", filled: 1, corrected: 0 }, "the device's row only");
    assert.equal([store.find("v", 1)?.observation.time, store.find("v", 1)?.observation.timeSource], [5000, "gateway"], "the derived row keeps its time");
    assert.is(store.find("v", 2)?.observation.time, 1_000_700);
    assert.is(derived.observation.seq, 1);
  });
});

test("a store from before migration 4 opens with its derived rows marked as such: still never inputs, still never re-timed by an anchor", () => {
  const dir = tempDir("rule-store");
  const db = new Database(join(dir.path, STORE_FILE));
  db.pragma("journal_mode = WAL");
  for (const migration of MIGRATIONS.slice(0, 3)) db.exec(migration);
  db.pragma("user_version = 3");
  const insert = db.prepare("INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at) VALUES (?, ?, 0, ?, ?, ?, ?, ?)");
  const readings = JSON.stringify([{ quantity: "temperature", value: 1 }]);
  insert.run("v", 1, 0, 5000, "gateway", readings, 5000);
  db.prepare("INSERT INTO rule_derived (id, rule) VALUES (1, 'r')").run();
  insert.run("d", 1, 300, null, null, readings, 5001);
  db.close();
  const store = ObservationStore.open(dir.path);
  try {
    assert.equal(store.rules.inputsAfter(0, 10).map((row) => row.id), [2], "the derived row is not an input");
    assert.is(store.rules.backlog(0, 10), 1);
    assert.is(store.rules.ownerOf("v"), "r");
    store.append({ ...observation("v", 2), boot: 0, uptimeMs: 700 }, 6000);
    assert.equal(store.recordAnchor(anchor("v", 0, 1_000_000)), { decision: "adopt", filled: 1, corrected: 0 });
    assert.is(store.find("v", 1)?.observation.time, 5000);
    assert.equal(store.recordAnchor(anchor("d", 0, 2_000_000)), { decision: "adopt", filled: 1, corrected: 0 }, "an old device row of boot 0 is still timed");
    assert.is(store.find("d", 1)?.observation.time, 2_000_300);
  } finally {
    store.close();
    dir.remove();
  }
});

test.run();
