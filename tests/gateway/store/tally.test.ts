/*
 * StoreTally alone (no SQLite): changes count at once outside a
 * transaction, on commit inside one, and never once rolled back.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StoreTally, type StoreChange } from "../../../hosts/gateway/store/tally.js";

const empty = () => StoreTally.fromScan({ sensors: [], unrelayed: 0, untimed: 0, anchors: 0, rejected: 0 });
const stored = (sensorId: string, seq: number, id: number, untimed = false): StoreChange => ({ kind: "stored", sensorId, seq, id, untimed });

test("a scan's figures are the start; the observations are the sensors' sum", () => {
  const tally = StoreTally.fromScan({
    sensors: [{ sensorId: "b", observations: 3, lastSeq: 9, lastId: 30 }, { sensorId: "a", observations: 2, lastSeq: 4, lastId: 31 }],
    unrelayed: 4, untimed: 1, anchors: 2, rejected: 7,
  });
  assert.equal(tally.counts(), { observations: 5, unrelayed: 4, untimed: 1, anchors: 2, rejected: 7 });
  assert.equal(tally.sensors().map((s) => s.sensorId), ["a", "b"], "by sensor id");
});

test("outside a transaction a change counts at once; a late seq does not lower the highest", () => {
  const tally = empty();
  tally.record(stored("s", 5, 1, true), false);
  tally.record(stored("s", 3, 2), false);
  assert.equal(tally.sensors(), [{ sensorId: "s", observations: 2, lastSeq: 5, lastId: 2 }]);
  assert.equal(tally.counts(), { observations: 2, unrelayed: 2, untimed: 1, anchors: 0, rejected: 0 });
});

test("inside a transaction changes wait for commit; a rollback to a mark drops only what came after it", () => {
  const tally = empty();
  tally.record(stored("s", 1, 1, true), true);
  const savepoint = tally.mark;
  tally.record(stored("t", 1, 2), true);
  tally.record({ kind: "quarantined" }, true);
  assert.equal(tally.counts().observations, 0, "nothing before the commit");
  tally.rollbackTo(savepoint);
  tally.record({ kind: "timed", rows: 1 }, true);
  tally.commit();
  assert.equal(tally.counts(), { observations: 1, unrelayed: 1, untimed: 0, anchors: 0, rejected: 0 });
  assert.equal(tally.sensors().map((s) => s.sensorId), ["s"]);
  tally.record(stored("u", 1, 3), true);
  tally.rollbackTo(0);
  tally.commit();
  assert.equal(tally.counts().observations, 1, "a whole transaction rolled back");
});

test("an eviction takes each sensor's share, sets what is left, and drops a sensor left with nothing", () => {
  const tally = empty();
  for (let id = 1; id <= 6; id++) tally.record(stored(id <= 2 ? "gone" : "kept", id, id, id % 2 === 0), false);
  tally.record({ kind: "relayed", rows: 2, untimedAgain: 0 }, false);
  tally.record({
    kind: "evicted",
    unrelayed: 1,
    untimed: 2,
    sensors: [{ sensorId: "gone", rows: 2, remaining: null }, { sensorId: "kept", rows: 1, remaining: { lastSeq: 6, lastId: 5 } }],
  }, false);
  assert.equal(tally.counts(), { observations: 3, unrelayed: 3, untimed: 1, anchors: 0, rejected: 0 });
  assert.equal(tally.sensors(), [{ sensorId: "kept", observations: 3, lastSeq: 6, lastId: 5 }]);
});

test("anchors, the quarantine and its cap, and rows untimed again by a mark", () => {
  const tally = empty();
  tally.record(stored("s", 1, 1, true), false);
  tally.record({ kind: "timed", rows: 1 }, false);
  tally.record({ kind: "anchorAdded" }, false);
  tally.record({ kind: "quarantined" }, false);
  tally.record({ kind: "quarantined" }, false);
  tally.record({ kind: "quarantineEvicted", rows: 1 }, false);
  tally.record({ kind: "relayed", rows: 1, untimedAgain: 1 }, false);
  assert.equal(tally.counts(), { observations: 1, unrelayed: 0, untimed: 1, anchors: 1, rejected: 1 });
});

test.run();
