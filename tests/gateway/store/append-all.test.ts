/*
 * appendAll stores a group commit's observations many to an INSERT; each
 * outcome, row and figure must be what appending them one by one gives, on
 * a store of its own: retries of stored rows, a (sensor, seq) repeated
 * within the list, conflicts, and lists that end mid-chunk.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TimedObservation } from "../../../modules/observation/record.js";
import type { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { MAX_ROWS_PER_INSERT } from "../../../hosts/gateway/store/multi-row-insert.js";
import { withStore } from "../../support/temp-store.js";
import { observation } from "../../support/test-helpers.js";

function rows(store: ObservationStore) {
  return store.unrelayed(10_000).map(({ id, observation, receivedAt }) => ({ id, observation, receivedAt }));
}

/** Appends `list` one by one into one store and all at once into another, inside a transaction each, and compares. */
function sameAsOneByOne(before: TimedObservation[], list: TimedObservation[], what: string): void {
  withStore((one) => {
    withStore((all) => {
      for (const obs of before) {
        one.append(obs, 1);
        all.append(obs, 1);
      }
      const receivedAt = list.map((_, i) => 100 + i);
      const expected = one.transaction(() => list.map((obs, i) => one.append(obs, receivedAt[i])));
      const got = all.transaction(() => all.appendAll(list, receivedAt));
      assert.equal(got, expected, `outcomes: ${what}`);
      assert.equal(rows(all), rows(one), `rows, with their ids, as the relay gets them: ${what}`);
      assert.equal(all.counts(), one.counts(), `counts: ${what}`);
      for (const obs of list) assert.equal(all.find(obs.sensorId, obs.seq), one.find(obs.sensorId, obs.seq), `row ${obs.sensorId} ${obs.seq}: ${what}`);
    }, "append-all");
  }, "append-one");
}

const seqs = (sensorId: string, from: number, count: number) => Array.from({ length: count }, (_, i) => observation(sensorId, from + i));

test("new rows, in chunks of every size a list can end in", () => {
  for (const n of [1, 2, 3, 7, MAX_ROWS_PER_INSERT - 1, MAX_ROWS_PER_INSERT, MAX_ROWS_PER_INSERT + 1, 3 * MAX_ROWS_PER_INSERT + 37]) {
    sameAsOneByOne([], seqs("s-1", 1, n), `${n} new rows`);
  }
  const interleaved = seqs("s-1", 1, 50).flatMap((obs, i) => [obs, observation("s-2", i + 1), { ...observation("s-3", i + 1), time: 1_795_000_000_000 + i, timeSource: "gateway" as const }]);
  sameAsOneByOne([], interleaved, "three sensors interleaved, some timed");
});

test("retries of stored rows, a row repeated within the list, and conflicts, anywhere in a chunk", () => {
  const stored = seqs("s-1", 1, 10);
  const list = [
    ...seqs("s-1", 11, 5),
    observation("s-1", 3), // a retry: duplicate
    observation("s-1", 4, 99), // same seq, other reading: conflict
    ...seqs("s-1", 16, 3),
    observation("s-1", 12), // repeated within the list: duplicate
    observation("s-1", 13, 98), // repeated with other content: conflict
    ...seqs("s-1", 19, 80),
    observation("s-1", 90), // repeated from an earlier chunk
    ...seqs("s-2", 1, 3),
  ];
  sameAsOneByOne(stored, list, "mixed");
  sameAsOneByOne(stored, seqs("s-1", 1, 10), "nothing new");
  sameAsOneByOne([], [observation("s-1", 1), observation("s-1", 1), observation("s-1", 1, 5)], "one row three times");
});

test("outside a transaction it commits on its own; a failure in the list stores none of it", () => {
  withStore((store) => {
    assert.equal(store.appendAll(seqs("s-1", 1, 3), [1, 2, 3]), ["stored", "stored", "stored"]);
    assert.is(store.counts().observations, 3);
    // A time source the schema's CHECK refuses: SQLite throws mid-list.
    const bad = { ...observation("s-1", 5), time: 1, timeSource: "sundial" } as unknown as TimedObservation;
    assert.throws(() => store.appendAll([observation("s-1", 4), bad, observation("s-1", 6)], [4, 5, 6]), /CHECK constraint/);
    assert.equal([store.find("s-1", 4), store.counts().observations, store.unrelayed(10).length], [undefined, 3, 3]);
  });
});

test.run();
