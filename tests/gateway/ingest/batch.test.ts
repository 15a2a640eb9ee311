/*
 * Observation batches (record kind 3) at the gateway: stored together in one
 * transaction before the PUBACK, timed by their boot's anchor, a retried
 * batch counted as duplicates, a conflicting observation refused alone.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BatchWriter } from "../../../modules/observation/batch-writer.js";
import type { Observation } from "../../../modules/observation/record.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { Ingest } from "../../../hosts/gateway/ingest/ingest.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { tempDir } from "../../support/test-helpers.js";
import { anchorPayload, WALL } from "../../support/gateway-records.js";

const UP = "xsedge/v1/b-1/up";

function batchOf(observations: Observation[]): Uint8Array {
  const writer = new BatchWriter();
  for (const o of observations) assert.ok(writer.add(o));
  return writer.finish().slice();
}

const series = (from: number, count: number, celsius = 20): Observation[] =>
  Array.from({ length: count }, (_, i) => ({
    sensorId: "b-1", seq: from + i, boot: 4, uptimeMs: (from + i) * 1000, readings: [{ quantity: "temperature" as const, value: celsius }],
  }));

function setup() {
  const dir = tempDir("batch");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger("batch");
  const ingest = new Ingest({ store, logger, now: () => WALL + 60_000 });
  return { store, logger, ingest, done: () => (store.close(), dir.remove()) };
}

test("a batch is stored whole, each observation timed by its boot's anchor", () => {
  const { store, ingest, done } = setup();
  try {
    assert.is(ingest.handle({ topic: UP, payload: anchorPayload("b-1", 4, 0, WALL), clientId: "b-1" }).kind, "anchor");
    const outcome = ingest.handle({ topic: UP, payload: batchOf(series(1, 10)), clientId: "b-1" });
    assert.equal(outcome, { kind: "batch", stored: 10, duplicate: 0, conflicts: 0 });
    for (let seq = 1; seq <= 10; seq++) {
      const row = store.find("b-1", seq)!;
      assert.is(row.observation.time, WALL + seq * 1000);
      assert.is(row.observation.timeSource, "device");
    }
    assert.is(ingest.counters().stored, 10);
  } finally {
    done();
  }
});

test("a retried batch is all duplicates; an overlapping one stores only what is new", () => {
  const { store, ingest, done } = setup();
  try {
    const payload = batchOf(series(1, 5));
    ingest.handle({ topic: UP, payload, clientId: "b-1" });
    assert.equal(ingest.handle({ topic: UP, payload, clientId: "b-1" }), { kind: "batch", stored: 0, duplicate: 5, conflicts: 0 });
    assert.equal(ingest.handle({ topic: UP, payload: batchOf(series(4, 4)), clientId: "b-1" }), { kind: "batch", stored: 2, duplicate: 2, conflicts: 0 });
    assert.is(store.counts().observations, 7);
  } finally {
    done();
  }
});

test("an observation whose seq holds other content is refused alone, quarantined and counted; the rest are kept", () => {
  const { store, ingest, logger, done } = setup();
  try {
    ingest.handle({ topic: UP, payload: batchOf(series(1, 3, 20)), clientId: "b-1" });
    const outcome = ingest.handle({ topic: UP, payload: batchOf([...series(3, 1, 25), ...series(4, 2, 25)]), clientId: "b-1" });
    assert.equal(outcome, { kind: "batch", stored: 2, duplicate: 0, conflicts: 1 });
    assert.is(store.find("b-1", 3)!.observation.readings[0].value, 20, "the stored row is not overwritten");
    assert.is(ingest.counters().refusedByReason["seq-conflict"], 1);
    assert.is(store.counts().rejected, 1);
    assert.ok(logger.lines.some((l) => l.reason === "seq-conflict" && l.field === "observations[0].seq"));
  } finally {
    done();
  }
});

test("a malformed batch is refused whole, naming the field", () => {
  const { store, ingest, done } = setup();
  try {
    const good = batchOf(series(1, 2));
    const bad = good.slice(0, good.length - 1);
    const outcome = ingest.handle({ topic: UP, payload: bad, clientId: "b-1" });
    assert.is(outcome.kind, "refused");
    assert.is(store.counts().observations, 0);
  } finally {
    done();
  }
});

test.run();
