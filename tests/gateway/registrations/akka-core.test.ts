/*
 * The Akka registration consumer's pure decisions (which seq_nr comes next,
 * the offset merge, reading a stream message and its Registered payload, the
 * reconnect backoff) and the projection's storage of a stream position on a
 * real SQLite file.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { StreamOut } from "../../../hosts/grpc/messages.js";
import { packAny, REGISTERED } from "../../../hosts/grpc/payload.js";
import * as grpc from "@grpc/grpc-js";
import { judgeLoadAnswer } from "../../../hosts/gateway/registrations/akka/load.js";
import { HEALTHY_STREAM_MS, ReconnectBackoff } from "../../../hosts/gateway/registrations/akka/backoff.js";
import { readEnvelope, readRegistration, type Envelope } from "../../../hosts/gateway/registrations/akka/envelope.js";
import { advanceOffset, decideSequence, initOffsets, RegistrationStreamState } from "../../../hosts/gateway/registrations/akka/sequence.js";
import { RegistrationProjection } from "../../../hosts/gateway/registrations/projection.js";
import { tempDir } from "../../support/test-helpers.js";

const T = (seconds: number, nanos = 0) => ({ seconds, nanos });

test("sequence: last + 1 applies, at or before last is a duplicate, a jump is accepted with the count of missed seq_nrs, BT loads", () => {
  assert.equal(decideSequence(undefined, 1, ""), { action: "apply", missed: 0 });
  assert.equal(decideSequence(undefined, 7, ""), { action: "apply", missed: 0 }, "a pid never seen may start anywhere");
  assert.equal(decideSequence(3, 4, ""), { action: "apply", missed: 0 });
  assert.equal(decideSequence(3, 3, ""), { action: "duplicate", last: 3 });
  assert.equal(decideSequence(3, 1, "BT"), { action: "duplicate", last: 3 });
  assert.equal(decideSequence(3, 6, "PS"), { action: "apply", missed: 2 });
  assert.equal(decideSequence(3, 4, "BT"), { action: "load", missed: 0 });
  assert.equal(decideSequence(3, 5, "BT"), { action: "load", missed: 1 });
});

test("offset: a later timestamp starts a new seen set, the same one joins it, an earlier one leaves it", () => {
  let offset = advanceOffset(null, { persistenceId: "R|a", seqNr: 1 }, T(10, 5));
  assert.equal(offset, { timestamp: T(10, 5), seen: [{ persistenceId: "R|a", seqNr: 1 }] });
  offset = advanceOffset(offset, { persistenceId: "R|b", seqNr: 4 }, T(10, 5));
  offset = advanceOffset(offset, { persistenceId: "R|a", seqNr: 2 }, T(10, 5));
  assert.equal(offset.seen, [{ persistenceId: "R|b", seqNr: 4 }, { persistenceId: "R|a", seqNr: 2 }]);
  assert.is(advanceOffset(offset, { persistenceId: "R|c", seqNr: 1 }, T(10, 4)), offset, "never backwards");
  assert.equal(advanceOffset(offset, { persistenceId: "R|c", seqNr: 1 }, T(10, 6)), { timestamp: T(10, 6), seen: [{ persistenceId: "R|c", seqNr: 1 }] });
  assert.equal(initOffsets(new Map()), []);
  assert.equal(initOffsets(new Map([[null, offset]])), [{ timestamp: { seconds: 10, nanos: 5 }, seen: [{ persistence_id: "R|b", seq_nr: 4 }, { persistence_id: "R|a", seq_nr: 2 }] }]);
});

const whole = (timestamp: { seconds: number; nanos: number }, seen: { persistenceId: string; seqNr: number }[] = []) => ({ slice: null, timestamp, seen });

test("stream state: memory moves only on commit; an event without a usable timestamp moves its pid, not the offset", () => {
  const state = new RegistrationStreamState(new Map(), new Map([["R|a", 2]]));
  const step = state.step("R|a", 3, [whole(T(20))]);
  assert.is(state.lastSeqNr("R|a"), 2, "not before commit");
  assert.equal(state.offsets.size, 0);
  state.commit(step);
  assert.equal([state.lastSeqNr("R|a"), state.offsets.get(null)?.timestamp], [3, T(20)]);
  const noTime = state.step("R|b", 1, []);
  assert.equal(noTime, { persistenceId: "R|b", seqNr: 1, offsets: new Map() });
  state.commit(noTime);
  assert.equal(state.decide("R|b", 1, ""), { action: "duplicate", last: 1 });
});

test("an event's several offsets are each applied: the whole stream's and each slice's, the producer's seen pairs kept, and all sent back in InitReq", () => {
  const state = new RegistrationStreamState(new Map(), new Map());
  // A producer offsetting by slice: this event's slice 7 at T(30), slice 9 (lagging) at T(25) with what it saw there.
  const step = state.step("R|a", 1, [
    { slice: 7, timestamp: T(30), seen: [] },
    { slice: 9, timestamp: T(25), seen: [{ persistenceId: "R|z", seqNr: 4 }] },
  ]);
  state.commit(step);
  assert.equal(state.offsets.get(7), { timestamp: T(30), seen: [{ persistenceId: "R|a", seqNr: 1 }] });
  assert.equal(state.offsets.get(9), { timestamp: T(25), seen: [{ persistenceId: "R|z", seqNr: 4 }] }, "the lagging slice keeps its own, earlier position");
  // Slice 9 moving on does not touch slice 7; slice 7 going back is ignored.
  const next = state.step("R|b", 1, [{ slice: 9, timestamp: T(26), seen: [] }, { slice: 7, timestamp: T(29), seen: [] }]);
  assert.equal([...next.offsets.keys()], [9]);
  state.commit(next);
  assert.equal(initOffsets(state.offsets), [
    { timestamp: { seconds: 30, nanos: 0 }, seen: [{ persistence_id: "R|a", seq_nr: 1 }], slice: 7 },
    { timestamp: { seconds: 26, nanos: 0 }, seen: [{ persistence_id: "R|b", seq_nr: 1 }], slice: 9 },
  ]);
});

const out = (event: Record<string, unknown>): StreamOut =>
  ({ message: "event", event: { persistence_id: "Registration|a b|ü", seq_nr: "1", slice: 0, offset: [{ timestamp: { seconds: "1700000000", nanos: 0 }, seen: [] }], payload: packAny(REGISTERED, { secret: { value: "s3cret-value" } }), source: "", metadata: null, tags: [], ...event } }) as StreamOut;

function envelopeOf(message: StreamOut): Envelope {
  const reading = readEnvelope(message);
  if (!reading.ok) throw new Error(reading.reason);
  return reading.envelope;
}

test("a stream message: the entity id is any string; bad positions are refused by name, never parsed as numbers", () => {
  const envelope = envelopeOf(out({}));
  assert.equal([envelope.persistenceId, envelope.seqNr, envelope.timestamp, envelope.kind], ["Registration|a b|ü", 1, T(1_700_000_000), "event"]);
  assert.equal(readRegistration(envelope), { ok: true, registration: { sensorId: "a b|ü", secret: "s3cret-value", registeredAt: 1_700_000_000_000 } });
  const refused = (message: StreamOut) => {
    const reading = readEnvelope(message);
    return reading.ok ? "accepted" : reading.reason;
  };
  assert.match(refused(out({ persistence_id: "" })), /without a persistence id/);
  assert.match(refused(out({ seq_nr: "0" })), /seq_nr .* from 1 to 2\^53-1, got 0/);
  assert.match(refused(out({ seq_nr: "9007199254740993" })), /"Registration\|a b\|ü".*got 9007199254740993/);
  assert.match(refused({ message: "other" } as unknown as StreamOut), /neither an event nor a filtered event/);
  const filtered = envelopeOf({ message: "filtered_event", filtered_event: { persistence_id: "Registration|x", seq_nr: "2", slice: 1, offset: [], source: "" } });
  assert.equal([filtered.kind, filtered.payload, filtered.timestamp], ["filtered", null, null]);
});

test("a Registered payload: unknown type, malformed bytes, empty or oversized secret, bad timestamp are refused with pid and seq_nr, without the secret", () => {
  const reason = (event: Record<string, unknown>) => {
    const reading = readRegistration(envelopeOf(out(event)));
    return reading.ok ? "accepted" : reading.reason;
  };
  assert.match(reason({ payload: { type_url: "type.googleapis.com/other.Thing", value: new Uint8Array() } }), /^"Registration\|a b\|ü" seq_nr 1: unknown payload type "type.googleapis.com\/other.Thing"/);
  assert.match(reason({ payload: { type_url: "type.googleapis.com/iot.registration.Registered", value: Uint8Array.from([0x0a, 0x09, 0x01]) } }), /malformed iot.registration.Registered/);
  assert.match(reason({ payload: packAny(REGISTERED, { secret: { value: "" } }) }), /empty secret.value/);
  assert.match(reason({ payload: packAny(REGISTERED, {}) }), /empty secret.value/);
  const long = "L".repeat(129);
  const oversized = reason({ payload: packAny(REGISTERED, { secret: { value: long } }) });
  assert.match(oversized, /secret of 129 characters \(at most 128\)/);
  assert.not.ok(oversized.includes(long));
  assert.match(reason({ offset: [{ timestamp: { seconds: "1", nanos: 1_500_000_000 }, seen: [] }] }), /nanos must be 0..999999999/);
  assert.match(reason({ offset: [] }), /no offset timestamp/);
  assert.match(reason({ offset: [{ timestamp: { seconds: "1", nanos: 0 }, seen: [], slice: 1024 }] }), /offset\[0\] is for slice 1024/);
  assert.match(reason({ offset: [{ timestamp: { seconds: "1", nanos: 0 }, seen: Array.from({ length: 1001 }, (_, i) => ({ persistence_id: `R|${i}`, seq_nr: "1" })) }] }), /1001 seen pairs \(at most 1000\)/);
  assert.match(reason({ persistence_id: "NoSeparator" }), /not "<EntityType>\|<entityId>"/);
  assert.match(reason({ source: "BT", payload: null }), /no payload/);
});

test("LoadEvent's answer: the same event is loaded (keeping the BT timestamp if it has none); NOT_FOUND and wrong answers skip; other failures retry", () => {
  const bt = envelopeOf(out({ source: "BT", payload: null }));
  const same = out({ offset: [] });
  const loaded = judgeLoadAnswer(bt, null, same);
  assert.equal(loaded.outcome === "loaded" && [loaded.envelope.timestamp, loaded.envelope.payload !== null], [T(1_700_000_000), true]);
  assert.equal(judgeLoadAnswer(bt, { code: grpc.status.NOT_FOUND, details: "deleted" }, undefined), {
    outcome: "skip", reason: '"Registration|a b|ü" seq_nr 1: LoadEvent answered NOT_FOUND (5): deleted',
  });
  assert.equal(judgeLoadAnswer(bt, { code: grpc.status.DEADLINE_EXCEEDED, details: "slow" }, undefined).outcome, "retry");
  const reason = (answer: StreamOut) => {
    const result = judgeLoadAnswer(bt, null, answer);
    return result.outcome === "skip" ? result.reason : result.outcome;
  };
  assert.match(reason(out({ seq_nr: "0" })), /unusable event/);
  assert.match(reason(out({ seq_nr: "2" })), /another event, "Registration\|a b\|ü" seq_nr 2$/);
});

test("backoff: 500 ms doubling to 10 s, back to 500 ms after a healthy stream", () => {
  const backoff = new ReconnectBackoff();
  const delays = Array.from({ length: 7 }, () => backoff.ended(false));
  assert.equal(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.is(backoff.ended(true), 500);
  assert.is(backoff.ended(false), 1000);
  assert.ok(ReconnectBackoff.wasHealthy(true, 0, 1));
  assert.ok(ReconnectBackoff.wasHealthy(false, 0, HEALTHY_STREAM_MS));
  assert.not.ok(ReconnectBackoff.wasHealthy(false, 0, HEALTHY_STREAM_MS - 1));
  assert.throws(() => new ReconnectBackoff(0, 10), RangeError);
});

test("the projection stores a stream's position with the registration in one transaction, durably, per stream id", () => {
  const dir = tempDir("akka-projection");
  let projection = RegistrationProjection.open(dir.path, () => 42);
  assert.equal(projection.streamPosition("registration-events"), { offsets: new Map(), seqNrs: new Map() });
  const state = new RegistrationStreamState(new Map(), new Map());
  const first = state.step("Registration|s 1", 1, [whole(T(100, 999_999_999)), { slice: 12, timestamp: T(99), seen: [] }]);
  assert.is(projection.applyStreamEvent("registration-events", first, { sensorId: "s 1", secret: "first-secret", registeredAt: 100_999 }), "registered");
  state.commit(first);
  const bad = state.step("Registration|s|2", 4, [whole(T(100, 999_999_999))]);
  assert.is(projection.applyStreamEvent("registration-events", bad, null), "recorded");
  state.commit(bad);
  const again = state.step("Registration|s 1", 2, [whole(T(101))]);
  assert.is(projection.applyStreamEvent("registration-events", again, { sensorId: "s 1", secret: "second-secret", registeredAt: 101_000 }), "replaced");
  projection.close();

  projection = RegistrationProjection.open(dir.path);
  const position = projection.streamPosition("registration-events");
  assert.equal(position.offsets, new Map([
    [null, { timestamp: T(101), seen: [{ persistenceId: "Registration|s 1", seqNr: 2 }] }],
    [12, { timestamp: T(99), seen: [{ persistenceId: "Registration|s 1", seqNr: 1 }] }],
  ]));
  assert.equal([...position.seqNrs].sort(), [["Registration|s 1", 2], ["Registration|s|2", 4]]);
  assert.equal(projection.streamPosition("other-stream"), { offsets: new Map(), seqNrs: new Map() });
  assert.is(projection.verify("s 1", "second-secret"), "ok");
  assert.is(projection.verify("s 1", "first-secret"), "bad-secret");
  assert.not.ok(projection.isRegistered("s|2"));
  projection.close();
  for (const file of readdirSync(dir.path)) assert.not.ok(readFileSync(join(dir.path, file)).includes("second-secret"), `${file} holds no secret`);
  dir.remove();
});

test.run();
