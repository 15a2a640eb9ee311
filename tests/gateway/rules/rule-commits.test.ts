/*
 * The rules' commit queue (hosts/gateway/rules/rule-commits.ts) on a real
 * store: each rule's deliveries commit with their outputs, and the pieces
 * of a round are spread over the commit interval rather than run back to
 * back (each piece's pages ride on the next device group commit's fsync:
 * a round at once made a few of those fsyncs, and their PUBACKs, slow);
 * a flush in the middle of a round commits the rest at once, and the
 * queue goes on committing after it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { performance } from "node:perf_hooks";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { CommitQueue, COMMIT_INTERVAL_MS, MAX_PIECE_SPACING_MS, ROUND_SPREAD_SHARE, type RuleCommit } from "../../../hosts/gateway/rules/rule-commits.js";
import { LoopTurns } from "../../../hosts/gateway/rules/loop-turns.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { tempDir } from "../../support/test-helpers.js";

const WAIT_LIMIT_MS = 5000;

async function withQueue(run: (queue: CommitQueue, store: ObservationStore) => Promise<void>): Promise<void> {
  const dir = tempDir("rule-commits");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger();
  const queue = new CommitQueue(store, { isLate: () => false, onCommitted: () => {} }, logger, Date.now, new LoopTurns(logger));
  try {
    await run(queue, store);
  } finally {
    queue.close();
    store.close();
    dir.remove();
  }
}

/** One delivery of `rule` that derived one observation; resolves with the time it was committed. */
function delivery(rule: string, position: number): { commit: RuleCommit; committed: Promise<number> } {
  let done!: (at: number) => void;
  const committed = new Promise<number>((resolve) => (done = resolve));
  const commit: RuleCommit = {
    rule,
    version: 1,
    results: [{ observationId: position, timer: null, at: 1, derived: [{ sensorId: `${rule}.out`, readings: [{ quantity: "temperature", value: position }], time: 1_700_000_000_000 }], alerts: [], keepLocal: false, traces: [] }],
    state: "{}",
    position,
    events: 1,
    committed: () => done(performance.now()),
  };
  return { commit, committed };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${WAIT_LIMIT_MS} ms`)), WAIT_LIMIT_MS))),
  ]);
}

test("a round's pieces are spread over the interval, one rule's at a time, each with its outputs", async () => {
  await withQueue(async (queue, store) => {
    const rules = ["r1", "r2", "r3", "r4", "r5", "r6"];
    const deliveries = rules.map((rule, i) => delivery(rule, i + 1));
    for (const { commit } of deliveries) queue.add(commit);
    const times = await within(Promise.all(deliveries.map((d) => d.committed)), "the round");
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // Six pieces in one interval: each waits its share of the spread (timers fire late, never early).
    const spacing = Math.min(MAX_PIECE_SPACING_MS, (COMMIT_INTERVAL_MS * ROUND_SPREAD_SHARE) / rules.length);
    assert.ok(gaps.every((gap) => gap >= spacing - 2), `gaps between pieces ${gaps.map((g) => g.toFixed(1)).join(", ")} ms, each at least ~${spacing} ms`);
    for (const rule of rules) assert.is(store.rules.ownerOf(`${rule}.out`), rule, `${rule}'s derived observation is stored`);
  });
});

test("a flush in the middle of a round commits the rest at once, and later deliveries still commit", async () => {
  await withQueue(async (queue, store) => {
    const first = ["a", "b", "c", "d"].map((rule, i) => delivery(rule, i + 1));
    for (const { commit } of first) queue.add(commit);
    await within(first[0].committed, "the round's first piece");
    assert.ok(queue.flush(), "the flush committed");
    assert.is(queue.stats.queuedEvents, 0, "nothing left queued");
    for (const rule of ["a", "b", "c", "d"]) assert.is(store.rules.ownerOf(`${rule}.out`), rule);
    const later = delivery("e", 9);
    queue.add(later.commit);
    await within(later.committed, "a delivery after the flush");
    assert.is(store.rules.ownerOf("e.out"), "e");
  });
});

test.run();
