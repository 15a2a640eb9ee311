import { test } from "uvu";
import * as assert from "uvu/assert";
import { UnrelayedTail } from "../../../hosts/gateway/store/unrelayed-tail.js";
import type { StoredObservation } from "../../../hosts/gateway/store/schema.js";
import { observation } from "../../support/test-helpers.js";

function rows(from: number, to: number): StoredObservation[] {
  const out: StoredObservation[] = [];
  for (let id = from; id <= to; id++) out.push({ id, observation: observation("s-1", id), receivedAt: id, relayedAt: null });
  return out;
}
const ids = (list: readonly StoredObservation[]) => list.map((row) => row.id);

test("a new tail holds nothing and is not complete: a backlog from before a restart may be in SQLite", () => {
  const tail = new UnrelayedTail(10);
  assert.is(tail.complete, false);
  assert.is(tail.size, 0);
  assert.is(tail.firstId, Infinity);
  tail.add(rows(5, 7));
  assert.is(tail.complete, false, "new rows do not say anything about older ones");
  assert.is(tail.firstId, 5);
  assert.equal(ids(tail.oldest(2)), [5, 6]);
});

test("a read below the tail that finds fewer rows than asked found them all: the tail holds them and is complete", () => {
  const tail = new UnrelayedTail(10);
  tail.add(rows(5, 7));
  tail.readBelow(rows(1, 3), 3);
  assert.is(tail.complete, false, "a full read may have left more behind");
  assert.is(tail.firstId, 5);
  tail.readBelow(rows(1, 2), 3);
  assert.is(tail.complete, true);
  assert.equal(ids(tail.oldest(10)), [1, 2, 5, 6, 7]);
});

test("acknowledged rows leave the tail, at its front or anywhere in it; ids it does not hold are ignored", () => {
  const tail = new UnrelayedTail(10);
  tail.readBelow([], 1);
  tail.add(rows(1, 6));
  tail.remove([1, 2, 99]);
  assert.equal(ids(tail.oldest(10)), [3, 4, 5, 6]);
  tail.remove([5, 3]);
  assert.equal(ids(tail.oldest(10)), [4, 6]);
  assert.is(tail.complete, true);
  tail.remove([4, 6]);
  assert.is(tail.size, 0);
  assert.is(tail.firstId, Infinity);
});

test("over its capacity the tail lets its oldest rows go and is no longer complete", () => {
  const tail = new UnrelayedTail(4);
  tail.readBelow([], 1);
  tail.add(rows(1, 3));
  assert.is(tail.complete, true);
  tail.add(rows(4, 6));
  assert.is(tail.complete, false, "rows 1 and 2 are now in SQLite only");
  assert.is(tail.size, 4);
  assert.equal(ids(tail.oldest(10)), [3, 4, 5, 6]);
});

test("invalidate drops everything held: rows changed in SQLite are read from there again", () => {
  const tail = new UnrelayedTail(4);
  tail.readBelow([], 1);
  tail.add(rows(1, 3));
  tail.invalidate();
  assert.is(tail.complete, false);
  assert.is(tail.size, 0);
});

test("many adds and removes keep the order and the size (the array's dead front is compacted)", () => {
  const tail = new UnrelayedTail(100);
  tail.readBelow([], 1);
  for (let batch = 0; batch < 50; batch++) {
    tail.add(rows(batch * 10 + 1, batch * 10 + 10));
    tail.remove(ids(tail.oldest(7)));
  }
  // Each batch adds 10 and removes the oldest 7; past 100 the oldest go anyway. What is left is the newest 93, in order.
  assert.equal(ids(tail.oldest(1000)), ids(rows(408, 500)));
  assert.is(tail.complete, false);
});

test("a capacity that is not a positive integer is refused", () => {
  assert.throws(() => new UnrelayedTail(0), /positive integer/);
  assert.throws(() => new UnrelayedTail(1.5), /positive integer/);
});

test.run();
