/*
 * The store hands the relay the rows it has just committed from memory
 * (hosts/gateway/store/unrelayed-tail.ts) and reads from SQLite only what memory does not hold.
 * Whichever way a row comes, the relay must see every unrelayed row once,
 * oldest first, with the time SQLite holds for it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BootAnchor } from "../../../hosts/gateway/store/clock-map.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { MAX_UNRELAYED_IN_MEMORY } from "../../../hosts/gateway/store/unrelayed-tail.js";
import { WALL } from "../../support/gateway-records.js";
import { observation, tempDir } from "../../support/test-helpers.js";

function withStore(run: (store: ObservationStore, reopen: () => ObservationStore) => void): void {
  const dir = tempDir("handoff");
  let store = ObservationStore.open(dir.path);
  try {
    run(store, () => {
      store.close();
      store = ObservationStore.open(dir.path);
      return store;
    });
  } finally {
    store.close();
    dir.remove();
  }
}

function append(store: ObservationStore, sensorId: string, from: number, to: number): void {
  store.transaction(() => {
    for (let seq = from; seq <= to; seq++) store.append(observation(sensorId, seq), seq);
  });
}

/** Relays everything as the relay does, `batch` at a time, and returns the seqs in the order they were handed out. */
function drain(store: ObservationStore, batch: number): number[] {
  const seen: number[] = [];
  for (;;) {
    const rows = store.unrelayed(batch);
    if (rows.length === 0) return seen;
    seen.push(...rows.map((row) => row.observation.seq));
    assert.is(store.markRelayed(rows, 1), rows.length, "every row handed out was unrelayed");
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function gatewayAnchor(sensorId: string, boot: number, offsetMs: number): BootAnchor {
  return { sensorId, boot, source: "gateway", offsetMs, uptimeMs: 0, wallMs: offsetMs, receivedAt: offsetMs };
}

test("a backlog from before a restart is relayed first, from SQLite, then the rows stored since, each once", () => {
  withStore((first, reopen) => {
    append(first, "s-1", 1, 1200);
    const store = reopen();
    append(store, "s-1", 1201, 1300);
    assert.equal(drain(store, 500), range(1, 1300));
    assert.is(store.counts().unrelayed, 0);
  });
});

test("when more arrive than memory holds, the oldest are read back from SQLite: none lost, none twice, in order", () => {
  withStore((store) => {
    const total = MAX_UNRELAYED_IN_MEMORY + 1500;
    append(store, "s-1", 1, total);
    assert.equal(drain(store, 500), range(1, total));
  });
});

test("rows keep flowing in while the relay drains an overflow: it reaches them, in order", () => {
  withStore((store) => {
    append(store, "s-1", 1, MAX_UNRELAYED_IN_MEMORY + 10);
    const seen: number[] = [];
    let next = MAX_UNRELAYED_IN_MEMORY + 11;
    for (let round = 0; round < 100; round++) {
      const rows = store.unrelayed(300);
      seen.push(...rows.map((row) => row.observation.seq));
      store.markRelayed(rows, 1);
      append(store, "s-1", next, next + 99);
      next += 100;
    }
    seen.push(...drain(store, 300));
    assert.equal(seen, range(1, next - 1));
  });
});

test("rows of a transaction that rolled back are never handed to the relay; those of a committed one are", () => {
  withStore((store) => {
    assert.throws(() =>
      store.transaction(() => {
        store.append(observation("s-1", 1), 1);
        throw new Error("the group fails");
      }),
    );
    store.transaction(() => {
      store.append(observation("s-1", 2), 2);
      // A batch record is a savepoint inside the group: it may fail alone.
      assert.throws(() =>
        store.transaction(() => {
          store.append(observation("s-1", 3), 3);
          throw new Error("the batch fails");
        }),
      );
      store.append(observation("s-1", 4), 4);
    });
    assert.equal(drain(store, 10), [2, 4]);
    assert.is(store.find("s-1", 1), undefined);
    assert.is(store.find("s-1", 3), undefined);
  });
});

test("an anchor that times rows stored in the same transaction: the relay gets them with that time", () => {
  withStore((store) => {
    store.transaction(() => {
      store.append(observation("s-1", 1), 1);
      store.append(observation("s-1", 2), 2);
      assert.equal(store.recordAnchor(gatewayAnchor("s-1", 1, WALL)), { decision: "adopt", filled: 2, corrected: 0 });
      store.append({ ...observation("s-1", 3), time: WALL + 3000, timeSource: "gateway" }, 3);
    });
    const rows = store.unrelayed(10);
    assert.equal(rows.map((row) => row.observation.time), [WALL + 1000, WALL + 2000, WALL + 3000]);
  });
});

test("an anchor that corrects rows already in memory: the relay gets the corrected time", () => {
  withStore((store) => {
    store.recordAnchor(gatewayAnchor("s-1", 1, WALL + 50));
    store.append({ ...observation("s-1", 1), time: WALL + 1050, timeSource: "gateway" }, 1);
    assert.is(store.unrelayed(1)[0].observation.time, WALL + 1050);
    assert.equal(store.recordAnchor(gatewayAnchor("s-1", 1, WALL)), { decision: "replace", filled: 0, corrected: 1 });
    assert.is(store.unrelayed(1)[0].observation.time, WALL + 1000);
  });
});

test("an anchor recorded in a transaction that rolled back is forgotten: observations are not timed by it", () => {
  withStore((store) => {
    assert.throws(() =>
      store.transaction(() => {
        store.recordAnchor(gatewayAnchor("s-1", 1, WALL));
        assert.ok(store.anchor("s-1", 1), "visible inside its transaction");
        throw new Error("the group fails");
      }),
    );
    assert.is(store.anchor("s-1", 1), undefined);
  });
});

test("unrelayed rows evicted by the disk cap are not handed to the relay afterwards", () => {
  withStore((store) => {
    append(store, "s-1", 1, 10);
    assert.equal(store.evictOldest(4), { relayed: 0, unrelayed: 4, lost: [{ sensorId: "s-1", firstSeq: 1, lastSeq: 4, count: 4 }] });
    assert.equal(drain(store, 3), range(5, 10));
  });
});

test("an ack for some rows of interleaved sensors marks exactly those rows", () => {
  withStore((store) => {
    store.transaction(() => {
      for (let seq = 1; seq <= 5; seq++) for (const sensorId of ["a", "b"]) store.append(observation(sensorId, seq), seq);
    });
    const rows = store.unrelayed(10);
    const acked = rows.filter((row) => row.observation.sensorId === "a" || row.observation.seq === 5);
    assert.is(store.markRelayed(acked, 7), 6);
    assert.equal(
      store.unrelayed(10).map((row) => `${row.observation.sensorId}${row.observation.seq}`),
      ["b1", "b2", "b3", "b4"],
    );
    assert.is(store.find("a", 3)?.relayedAt, 7);
    assert.is(store.find("b", 3)?.relayedAt, null);
  });
});

test.run();
