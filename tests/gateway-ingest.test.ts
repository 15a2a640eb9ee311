import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { encodeObservation, MAX_RECORD_BYTES } from "../modules/observation/record.js";
import { createMemoryLogger } from "../hosts/log/logger.js";
import { classify, Ingest, observationTopic } from "../hosts/gateway/ingest.js";
import { ObservationStore } from "../hosts/gateway/observation-store.js";
import { observation, tempDir } from "./support/test-helpers.js";

const valid = encodeObservation(observation("s-1", 1));

function setup() {
  const dir = tempDir("ingest");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger("ingest");
  const ingest = new Ingest({ store, logger, now: () => 1234 });
  return {
    store,
    logger,
    ingest,
    done() {
      store.close();
      dir.remove();
    },
  };
}

test("classify accepts a valid record on its sensor's topic", () => {
  const result = classify("xsedge/v1/s-1/obs", valid);
  assert.is(result.kind, "valid");
  assert.is(observationTopic("s-1"), "xsedge/v1/s-1/obs");
});

const refusals: Array<[string, string, Uint8Array, string, string]> = [
  ["a topic outside xsedge/v1", "sensors/s-1", valid, "bad-topic", "topic"],
  ["a topic with a fourth level", "xsedge/v1/s-1/obs/extra", valid, "bad-topic", "topic"],
  ["a topic with an invalid sensor id", "xsedge/v1/s 1/obs", valid, "bad-topic", "topic"],
  ["a reserved $SYS topic", "$SYS/broker/obs", valid, "bad-topic", "topic"],
  ["a payload over the record limit", "xsedge/v1/s-1/obs", new Uint8Array(MAX_RECORD_BYTES + 1), "too-large", "record"],
  ["a payload that is not CBOR", "xsedge/v1/s-1/obs", new Uint8Array([0xff, 0xfe, 0x00]), "malformed", "record"],
  ["an empty payload", "xsedge/v1/s-1/obs", new Uint8Array(0), "malformed", "record"],
  ["a record with a bad seq", "xsedge/v1/s-1/obs", encode([1, "s-1", 0, 1, 1, null, [[1, 2150, -2]]]), "malformed", "seq"],
  ["a record of another version", "xsedge/v1/s-1/obs", encode([9, "s-1", 1, 1, 1, null, []]), "malformed", "version"],
  ["a record from another sensor than the topic's", "xsedge/v1/s-2/obs", valid, "sensor-mismatch", "sensorId"],
];

for (const [what, topic, payload, reason, field] of refusals) {
  test(`classify refuses ${what} as ${reason} (${field})`, () => {
    const result = classify(topic, payload);
    assert.is(result.kind, "refused");
    if (result.kind !== "refused") return;
    assert.is(result.reason, reason);
    assert.is(result.field, field);
    assert.ok(result.detail.length > 0);
  });
}

test("ingest stores a valid publish, then counts its retry as a duplicate", () => {
  const t = setup();
  assert.is(t.ingest.handle({ topic: "xsedge/v1/s-1/obs", payload: valid, clientId: "dev-1" }).kind, "stored");
  assert.is(t.ingest.handle({ topic: "xsedge/v1/s-1/obs", payload: valid, clientId: "dev-1" }).kind, "duplicate");
  const counters = t.ingest.counters();
  assert.is(counters.stored, 1);
  assert.is(counters.duplicate, 1);
  assert.is(counters.refused, 0);
  assert.is(t.store.find("s-1", 1)?.receivedAt, 1234);
  t.done();
});

test("ingest quarantines, counts and logs every refusal with its reason and field", () => {
  const t = setup();
  for (const [, topic, payload] of refusals) t.ingest.handle({ topic, payload, clientId: "dev-9" });
  const counters = t.ingest.counters();
  assert.is(counters.refused, refusals.length);
  assert.is(counters.stored, 0);
  assert.equal(counters.refusedByReason, { "bad-topic": 4, "too-large": 1, malformed: 4, "sensor-mismatch": 1, "seq-conflict": 0 });
  assert.is(t.store.counts().rejected, refusals.length);
  assert.is(t.store.counts().observations, 0);
  const mismatch = t.store.rejected(1)[0];
  assert.is(mismatch.reason, "sensor-mismatch");
  assert.is(mismatch.clientId, "dev-9");
  assert.equal([...mismatch.payload], [...valid]);
  const warnings = t.logger.lines.filter((line) => line.level === "warn");
  assert.is(warnings.length, refusals.length);
  const line = warnings.find((l) => l.reason === "malformed" && l.field === "seq");
  assert.ok(line, "a malformed seq is logged with its field");
  assert.match(String(line?.msg), /refused publish from dev-9: malformed \(seq\)/);
  t.done();
});

test("ingest refuses a reused seq with different content as seq-conflict and keeps the payload", () => {
  const t = setup();
  t.ingest.handle({ topic: "xsedge/v1/s-1/obs", payload: valid, clientId: "dev-1" });
  const changed = encodeObservation(observation("s-1", 1, 30));
  const outcome = t.ingest.handle({ topic: "xsedge/v1/s-1/obs", payload: changed, clientId: "dev-1" });
  assert.is(outcome.kind, "refused");
  assert.is(t.ingest.counters().refusedByReason["seq-conflict"], 1);
  assert.equal([...t.store.rejected(1)[0].payload], [...changed]);
  t.done();
});

test("a store that cannot commit makes the outcome 'failed' (counted, logged), never 'stored'", () => {
  const t = setup();
  t.store.append = () => {
    throw new Error("disk I/O error");
  };
  const outcome = t.ingest.handle({ topic: "xsedge/v1/s-1/obs", payload: valid, clientId: "dev-1" });
  assert.is(outcome.kind, "failed");
  assert.is(t.ingest.counters().failed, 1);
  assert.is(t.ingest.counters().stored, 0);
  assert.ok(t.logger.lines.some((l) => l.level === "error" && /not acknowledging/.test(String(l.msg))));
  t.done();
});

test("a quarantine that cannot commit is 'failed' too, so the payload is not acknowledged and lost", () => {
  const t = setup();
  t.store.close();
  const outcome = t.ingest.handle({ topic: "nope", payload: valid, clientId: "dev-1" });
  assert.is(outcome.kind, "failed");
  assert.is(t.ingest.counters().refused, 0);
  assert.is(t.ingest.counters().failed, 1);
  t.done();
});

test.run();
