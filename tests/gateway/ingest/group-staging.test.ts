/*
 * A group commit stages its publishes with Ingest.stageAll, which stores
 * runs of observations many to an INSERT. Whatever a group holds, the
 * outcomes, rows (with their clock-anchor times), quarantine and counters
 * must be those of the same publishes handled one by one on a store of
 * their own.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BatchWriter } from "../../../modules/observation/batch-writer.js";
import type { Observation } from "../../../modules/observation/record.js";
import { Ingest, uplinkTopic, type PublishInput } from "../../../hosts/gateway/ingest/ingest.js";
import { IngestQueue } from "../../../hosts/gateway/ingest/queue.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { anchorPayload, obsPayload, WALL } from "../../support/gateway-records.js";
import { tempDir } from "../../support/test-helpers.js";

function batchOf(observations: Observation[]): Uint8Array {
  const writer = new BatchWriter();
  for (const o of observations) assert.ok(writer.add(o));
  return writer.finish().slice();
}

const publish = (sensorId: string, payload: Uint8Array, topic = uplinkTopic(sensorId)): PublishInput => ({ topic, payload, clientId: sensorId, authenticatedAs: sensorId });

function open(prefix: string) {
  const dir = tempDir(prefix);
  const store = ObservationStore.open(dir.path);
  let clock = WALL;
  const ingest = new Ingest({ store, logger: createMemoryLogger(prefix), now: () => clock++ });
  return { store, ingest, done: () => (store.close(), dir.remove()) };
}

test("a group of observations, anchors, batches, retries, conflicts and refusals: as if handled one by one", async () => {
  const series = (from: number, count: number): Observation[] =>
    Array.from({ length: count }, (_, i) => ({ sensorId: "s-2", seq: from + i, boot: 1, uptimeMs: (from + i) * 1000, readings: [{ quantity: "temperature" as const, value: 20 }] }));
  const inputs: PublishInput[] = [
    ...Array.from({ length: 70 }, (_, i) => publish("s-1", obsPayload("s-1", i + 1))),
    publish("s-1", anchorPayload("s-1", 1, 5_000, WALL)), // times the 70 before it, and those after it
    ...Array.from({ length: 10 }, (_, i) => publish("s-1", obsPayload("s-1", 71 + i))),
    publish("s-1", obsPayload("s-1", 5)), // a retry of a row stored earlier in the group
    publish("s-1", obsPayload("s-1", 6, 1, 99)), // a conflict with one
    publish("s-2", batchOf(series(1, 5))),
    publish("s-2", obsPayload("s-2", 3)), // a retry of a row the batch stored
    publish("s-2", obsPayload("s-2", 6)),
    publish("s-3", obsPayload("s-1", 200)), // not its own sensor: refused
    publish("s-1", obsPayload("s-1", 81), "xsedge/v1/s-1/down"), // bad topic
    publish("s-1", new Uint8Array([1, 2, 3])), // malformed
    ...Array.from({ length: 40 }, (_, i) => publish("s-1", obsPayload("s-1", 81 + i, 2))), // another boot, no anchor: untimed
    publish("s-1", obsPayload("s-1", 100, 2)), // repeated within the run
  ];

  const one = open("staging-one");
  const expected = inputs.map((input) => one.ingest.handle(input));
  const all = open("staging-all");
  const queue = new IngestQueue({ ingest: all.ingest, store: all.store, logger: createMemoryLogger("queue") });
  const got = await Promise.all(inputs.map((input) => queue.submit(input)));
  assert.is(queue.stats().commits, 1, "one group");

  assert.equal(got, expected, "outcomes");
  assert.equal(all.ingest.counters(), one.ingest.counters(), "counters");
  assert.equal(all.store.counts(), one.store.counts(), "store counts");
  const rows = (store: ObservationStore) => store.unrelayed(1000).map(({ id, observation }) => ({ id, observation }));
  assert.equal(rows(all.store), rows(one.store), "rows, their ids and times");
  const rejected = (store: ObservationStore) => store.rejected(100).map(({ reason, field, detail, topic }) => ({ reason, field, detail, topic }));
  assert.equal(rejected(all.store), rejected(one.store), "quarantine");
  assert.ok(all.store.find("s-1", 1)?.observation.time !== undefined, "the anchor timed the rows stored before it in the group");
  one.done();
  all.done();
});

test.run();
