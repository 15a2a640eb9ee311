import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { encodeObservation, MAX_RECORD_BYTES } from "../../../modules/observation/record.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { classify, Ingest, uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { observation, tempDir } from "../../support/test-helpers.js";
import { anchorPayload, WALL } from "../../support/gateway-records.js";

const valid = encodeObservation(observation("s-1", 1));
const UP = "xsedge/v1/s-1/up";

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

test("classify accepts an observation and a clock anchor on their sensor's uplink topic", () => {
  assert.is(uplinkTopic("s-1"), UP);
  const obs = classify(UP, valid);
  assert.ok(obs.kind === "valid" && obs.record.kind === "observation");
  const anchor = classify(UP, anchorPayload("s-1", 1, 10, null));
  assert.ok(anchor.kind === "valid" && anchor.record.kind === "clock");
});

const refusals: Array<[string, string, Uint8Array, string, string]> = [
  ["a topic outside xsedge/v1", "sensors/s-1", valid, "bad-topic", "topic"],
  ["the old observation topic", "xsedge/v1/s-1/obs", valid, "bad-topic", "topic"],
  ["a topic with a fourth level", "xsedge/v1/s-1/up/extra", valid, "bad-topic", "topic"],
  ["a topic with an invalid sensor id", "xsedge/v1/s 1/up", valid, "bad-topic", "topic"],
  ["a reserved $SYS topic", "$SYS/broker/up", valid, "bad-topic", "topic"],
  ["a payload over the record limit", UP, new Uint8Array(MAX_RECORD_BYTES + 1), "too-large", "record"],
  ["a payload that is not CBOR", UP, new Uint8Array([0xff, 0xfe, 0x00]), "malformed", "record"],
  ["an empty payload", UP, new Uint8Array(0), "malformed", "record"],
  ["an observation with a bad seq", UP, encode([1, "s-1", 0, 1, 1, 1, 2150]), "malformed", "seq"],
  ["a record of an unknown kind", UP, encode([9, "s-1", 1, 1, 1]), "malformed", "kind"],
  ["an anchor whose wallMs is not an integer", UP, encode([2, "s-1", 1, 500, 1_795_000_000_000.5]), "malformed", "wallMs"],
  ["an anchor whose wallMs is text", UP, encode([2, "s-1", 1, 500, "now"]), "malformed", "wallMs"],
  ["an anchor with a missing element", UP, encode([2, "s-1", 1, 500]), "malformed", "record"],
  ["an observation from another sensor than the topic's", "xsedge/v1/s-2/up", valid, "sensor-mismatch", "sensorId"],
  ["an anchor from another sensor than the topic's", "xsedge/v1/s-2/up", anchorPayload("s-1", 1, 1, null), "sensor-mismatch", "sensorId"],
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
  assert.is(t.ingest.handle({ topic: UP, payload: valid, clientId: "dev-1" }).kind, "stored");
  assert.is(t.ingest.handle({ topic: UP, payload: valid, clientId: "dev-1" }).kind, "duplicate");
  const counters = t.ingest.counters();
  assert.is(counters.stored, 1);
  assert.is(counters.duplicate, 1);
  assert.is(counters.refused, 0);
  assert.is(counters.untimed, 1, "no anchor: stored without a time, and counted");
  assert.is(t.store.find("s-1", 1)?.receivedAt, 1234);
  assert.is(t.store.find("s-1", 1)?.observation.time, undefined);
  t.done();
});

test("ingest quarantines, counts and logs every refusal with its reason and field", () => {
  const t = setup();
  // One client each: a client's later refusals of a reason are throttled (gateway-refusal-log.test.ts).
  refusals.forEach(([, topic, payload], i) => t.ingest.handle({ topic, payload, clientId: `dev-${i}` }));
  const counters = t.ingest.counters();
  assert.is(counters.refused, refusals.length);
  assert.is(counters.stored, 0);
  assert.equal(counters.refusedByReason, { "bad-topic": 5, "too-large": 1, malformed: 7, "sensor-mismatch": 2, "seq-conflict": 0, "clock-unset": 0, "wrong-sensor": 0 });
  assert.equal(t.store.counts(), { observations: 0, unrelayed: 0, untimed: 0, anchors: 0, rejected: refusals.length });
  const mismatch = t.store.rejected(1)[0];
  assert.is(mismatch.reason, "sensor-mismatch");
  assert.is(mismatch.clientId, `dev-${refusals.length - 1}`);
  assert.equal([...mismatch.payload], [...anchorPayload("s-1", 1, 1, null)]);
  const warnings = t.logger.lines.filter((line) => line.level === "warn");
  assert.is(warnings.length, refusals.length);
  const line = warnings.find((l) => l.reason === "malformed" && l.field === "seq");
  assert.ok(line, "a malformed seq is logged with its field");
  assert.match(String(line?.msg), /refused publish from dev-8: malformed \(seq\)/);
  const wall = t.store.rejected().find((r) => r.field === "wallMs");
  assert.ok(wall && /wallMs/.test(wall.detail), "a malformed anchor is quarantined naming wallMs");
  t.done();
});

test("ingest refuses a reused seq with different content as seq-conflict and keeps the payload", () => {
  const t = setup();
  t.ingest.handle({ topic: UP, payload: valid, clientId: "dev-1" });
  const changed = encodeObservation(observation("s-1", 1, 30));
  const outcome = t.ingest.handle({ topic: UP, payload: changed, clientId: "dev-1" });
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
  t.store.recordAnchor = () => {
    throw new Error("disk I/O error");
  };
  assert.is(t.ingest.handle({ topic: UP, payload: valid, clientId: "dev-1" }).kind, "failed");
  assert.is(t.ingest.handle({ topic: UP, payload: anchorPayload("s-1", 1, 1, WALL), clientId: "dev-1" }).kind, "failed");
  assert.is(t.ingest.counters().failed, 2);
  assert.is(t.ingest.counters().stored, 0);
  assert.equal(t.ingest.counters().anchors, { adopted: 0, replaced: 0, kept: 0 });
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
