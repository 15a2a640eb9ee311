/*
 * The Akka stand-in's pure decisions: Java's String.hashCode and slices,
 * Timestamps and resume points, producer init and filters, the consumer
 * session's steps and refusals, and the fault switches.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConsumerSession } from "../support/akka-standin/consumer-protocol.js";
import { EventFilter } from "../support/akka-standin/event-filter.js";
import { isAfterResumePoint, resumePointOf, timestampOfMicros, timestampProblem } from "../support/akka-standin/event-time.js";
import { parseInit, wireEvent } from "../support/akka-standin/producer-protocol.js";
import { encodeTemperatureRead, TEMPERATURE_READ_TYPE_URL } from "../support/akka-standin/protos.js";
import { entityIdOf, javaStringHashCode, sliceOf } from "../support/akka-standin/slice.js";
import { StatusError } from "../support/akka-standin/status-error.js";
import { StandinSwitches } from "../support/akka-standin/switches.js";
import type { ConsumeEventIn, InitReq } from "../support/akka-standin/wire.js";

function refusal(run: () => unknown): StatusError {
  try {
    run();
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error("expected a StatusError");
}

test("javaStringHashCode matches Java's String.hashCode, overflow and UTF-16 surrogates included", () => {
  // Values as Java prints them (computed independently over UTF-16 code units).
  assert.is(javaStringHashCode(""), 0);
  assert.is(javaStringHashCode("hello"), 99162322);
  assert.is(javaStringHashCode("Aa"), javaStringHashCode("BB"));
  assert.is(javaStringHashCode("polygenelubricants"), -2147483648);
  assert.is(javaStringHashCode("😀"), 1772899);
  assert.is(javaStringHashCode("Registration|1"), -1569490482);
});

test("sliceOf is abs(hash % 1024), with Java's remainder sign, for negative hashes too", () => {
  assert.is(sliceOf("Registration|1"), 562);
  assert.is(sliceOf("Registration|2"), 561);
  assert.is(sliceOf("Registration|42"), 895);
  assert.is(sliceOf("Sensor|1"), 143);
  assert.is(sliceOf("Registration|sensor-ü-7"), 534);
  assert.is(sliceOf("polygenelubricants"), 0);
  assert.is(entityIdOf("Registration|a|b"), "a|b");
});

test("a Timestamp carries the sub-second part in nanos, and total nanos are refused by name", () => {
  assert.equal(timestampOfMicros(1_700_000_000_123_456), { seconds: 1_700_000_000, nanos: 123_456_000 });
  assert.is(timestampProblem({ seconds: 1_700_000_000, nanos: 999_999_999 }, "t"), undefined);
  assert.match(timestampProblem({ seconds: 0, nanos: 1_500_000_000 }, "offset")!, /offset: nanos .* total nanoseconds/);
  assert.match(timestampProblem({ seconds: -1, nanos: 0 }, "t")!, /seconds -1/);
});

test("a resume point skips what was seen at its timestamp and keeps everything after it", () => {
  const at = 1_700_000_000_000_001;
  const resume = resumePointOf([{ timestamp: timestampOfMicros(at), seen: [{ persistence_id: "Registration|1", seq_nr: 3 }] }]);
  assert.not.ok(isAfterResumePoint({ persistenceId: "Registration|1", seqNr: 3, timestampUs: at }, resume));
  assert.ok(isAfterResumePoint({ persistenceId: "Registration|2", seqNr: 1, timestampUs: at }, resume));
  assert.ok(isAfterResumePoint({ persistenceId: "Registration|1", seqNr: 4, timestampUs: at + 1 }, resume));
  assert.not.ok(isAfterResumePoint({ persistenceId: "Registration|9", seqNr: 1, timestampUs: at - 1 }, resume));
  assert.is(resumePointOf([]), undefined);
  // Of several offsets the earliest wins: re-sending is safe, skipping is not.
  const earliest = resumePointOf([{ timestamp: { seconds: 20, nanos: 0 }, seen: [] }, { timestamp: { seconds: 10, nanos: 5 }, seen: [] }]);
  assert.is(earliest!.nanos, 10_000_000_005n);
});

const init = (fields: Partial<InitReq>): InitReq =>
  ({ stream_id: "registration-events", slice_min: 0, slice_max: 1023, offset: [], filter: [], replica_info: null, ...fields });

test("parseInit refuses a first message that is not InitReq, an unknown stream, bad slices and total-nanos offsets", () => {
  assert.is(refusal(() => parseInit({ message: "filter", filter: { criteria: [] } })).code, "INVALID_ARGUMENT");
  assert.is(refusal(() => parseInit({ message: "init", init: init({ stream_id: "temperature-events" }) })).code, "NOT_FOUND");
  assert.is(refusal(() => parseInit({ message: "init", init: init({ slice_min: 10, slice_max: 5 }) })).code, "INVALID_ARGUMENT");
  assert.is(refusal(() => parseInit({ message: "init", init: init({ slice_max: 1024 }) })).code, "INVALID_ARGUMENT");
  const totalNanos = init({ offset: [{ timestamp: { seconds: 0, nanos: 1_500_000_000 }, seen: [] }] });
  assert.match(refusal(() => parseInit({ message: "init", init: totalNanos })).message, /offset\[0\]\.timestamp: nanos/);
  assert.equal(parseInit({ message: "init", init: init({ slice_min: 3, slice_max: 7 }) }).sliceMax, 7);
});

test("a backtracking event has source BT and no payload; a normal one carries Any and its own offset", () => {
  const journal = { ordinal: 1, persistenceId: "Registration|1", seqNr: 2, timestampUs: 5_000_001, slice: 562, typeUrl: "t/x", payload: Buffer.from([1]) };
  const normal = wireEvent(journal, false);
  assert.equal(normal.offset, [{ timestamp: { seconds: 5, nanos: 1000 }, seen: [{ persistence_id: "Registration|1", seq_nr: 2 }] }]);
  assert.is(normal.payload!.type_url, "t/x");
  assert.is(normal.source, "");
  const backtracking = wireEvent(journal, true);
  assert.is(backtracking.payload, null);
  assert.is(backtracking.source, "BT");
});

test("filters: excluded unless included, whole-id regexes, replay asked by IncludeEntityIds, topics and bad regexes refused", () => {
  const filter = new EventFilter();
  assert.ok(filter.passes("7", []));
  filter.apply([{ message: "exclude_matching_entity_ids", exclude_matching_entity_ids: { matching: ["1."] } }]);
  assert.not.ok(filter.passes("12", []));
  assert.ok(filter.passes("123", []), "a regex must match the whole entity id");
  const replays = filter.apply([{ message: "include_entity_ids", include_entity_ids: { entity_id_offset: [{ entity_id: "12", seq_nr: 3 }, { entity_id: "13", seq_nr: 0 }] } }]);
  assert.equal(replays, [{ entityId: "12", seqNr: 3 }]);
  assert.ok(filter.passes("12", []) && filter.passes("13", []) && !filter.passes("14", []));
  filter.apply([{ message: "exclude_tags", exclude_tags: { tags: ["t"] } }]);
  assert.not.ok(filter.passes("99", ["t"]));
  assert.is(refusal(() => filter.apply([{ message: "include_topics", include_topics: { expression: ["a/#"] } }])).code, "UNIMPLEMENTED");
  assert.is(refusal(() => filter.apply([{ message: "exclude_entity_ids", exclude_entity_ids: { entity_ids: ["25"] } },
    { message: "include_matching_entity_ids", include_matching_entity_ids: { matching: ["("] } }])).code, "INVALID_ARGUMENT");
  assert.ok(filter.passes("25", []), "a refused batch changes nothing");
  assert.is(refusal(() => filter.apply([{}])).code, "INVALID_ARGUMENT");
});

const event = (fields: Record<string, unknown>): ConsumeEventIn => ({
  message: "event",
  event: { persistence_id: "Sensor|1", seq_nr: 1, slice: 143, offset: [{ timestamp: { seconds: 1, nanos: 0 }, seen: [] }],
    payload: { type_url: TEMPERATURE_READ_TYPE_URL, value: encodeTemperatureRead(21) }, source: "", tags: [], ...fields },
});

test("a consumer session starts only with ConsumerEventInit of temperature-events", () => {
  assert.is(refusal(() => new ConsumerSession().receive(event({}))).code, "INVALID_ARGUMENT");
  const wrongStream = { message: "init", init: { origin_id: "o", stream_id: "registration-events", fill_sequence_number_gaps: false } } as const;
  assert.is(refusal(() => new ConsumerSession().receive(wrongStream)).code, "PERMISSION_DENIED");
  const session = new ConsumerSession();
  assert.is(session.receive({ message: "init", init: { origin_id: "edge", stream_id: "temperature-events", fill_sequence_number_gaps: false } }).kind, "start");
  assert.is(refusal(() => session.receive({ message: "init", init: { origin_id: "edge", stream_id: "temperature-events", fill_sequence_number_gaps: false } })).code, "INVALID_ARGUMENT");
});

test("a consumer session decodes TemperatureRead, keeps other payloads opaque, and names each malformed event", () => {
  const session = new ConsumerSession();
  session.receive({ message: "init", init: { origin_id: "edge", stream_id: "temperature-events", fill_sequence_number_gaps: false } });
  const step = session.receive(event({}));
  assert.ok(step.kind === "consume" && step.event.temperature === 21 && step.event.originId === "edge");
  const opaque = session.receive(event({ payload: { type_url: "type.googleapis.com/xsedge.Observation", value: Buffer.from([9, 9]) } }));
  assert.ok(opaque.kind === "consume" && opaque.event.temperature === null && opaque.event.payload!.equals(Buffer.from([9, 9])));
  assert.is(session.receive({ message: "keep_alive", keep_alive: {} }).kind, "keep-alive");
  assert.match(refusal(() => session.receive(event({ slice: 0 }))).message, /slice 0 should be 143/);
  assert.match(refusal(() => session.receive(event({ seq_nr: 0 }))).message, /seq_nr must be 1 or more/);
  assert.match(refusal(() => session.receive(event({ persistence_id: "1", slice: sliceOf("1") }))).message, /<EntityType>\|<entityId>/);
  assert.match(refusal(() => session.receive(event({ payload: null, source: "BT" }))).message, /no payload/);
  assert.match(refusal(() => session.receive(event({ payload: { type_url: TEMPERATURE_READ_TYPE_URL, value: Buffer.from([0x08]) } }))).message, /not a valid iot.temperature.TemperatureRead/);
  assert.match(refusal(() => session.receive(event({ offset: [{ timestamp: { seconds: 0, nanos: 2e9 }, seen: [] }] }))).message, /nanos/);
});

test("switches: UNAVAILABLE for exactly the next N calls, reset after N events, every Nth ordinal backtracking", () => {
  const switches = new StandinSwitches({ unavailableCalls: 2, resetAfterEvents: 3, backtrackEvery: 2 });
  assert.equal([switches.takeUnavailable(), switches.takeUnavailable(), switches.takeUnavailable()], [true, true, false]);
  assert.equal([1, 2, 3].map((n) => switches.resetDue(n)), [false, false, true]);
  assert.equal([1, 2, 3, 4].map((n) => switches.isBacktracking(n)), [false, true, false, true]);
  switches.set({ resetAfterEvents: null, backtrackEvery: null });
  assert.not.ok(switches.resetDue(1000) || switches.isBacktracking(2));
  assert.throws(() => switches.set({ resetAfterEvents: 0 }), /resetAfterEvents/);
  assert.throws(() => switches.set({ unavailableCalls: -1 }), /unavailableCalls/);
});

test.run();
