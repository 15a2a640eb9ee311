/*
 * The reference cloud's gRPC decisions, without sockets: the journal clock,
 * Akka offsets as stream cursors, and what a consumed event becomes
 * (observation or quarantine, by reason).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Event } from "../../hosts/grpc/messages.js";
import { messageType } from "../../hosts/grpc/protocol.js";
import { OBSERVATION_RECORDED, packAny, unpackAny } from "../../hosts/grpc/payload.js";
import { JournalClock } from "../../simulator/cloud/grpc/event-journal.js";
import { advance, cursorOf, isAfter, START } from "../../simulator/cloud/grpc/stream-cursor.js";
import { consumeEvent } from "../../simulator/cloud/grpc/consumed-event.js";
import { recordedPayloadOf } from "../../simulator/cloud/grpc/observation-payload.js";
import { eventOf, observationRecorded, temperatureRead } from "../support/cloud-grpc.js";

/** An event as the server receives it: encoded and decoded with the protocol's loader options. */
function received(message: { event: unknown }): Event {
  const type = messageType("akka.projection.grpc.Event");
  const decoded = type.toObject(type.decode(type.encode(type.fromObject(message.event as Record<string, unknown>)).finish()), { longs: String, enums: String, defaults: true });
  return { metadata: null, ...decoded } as unknown as Event;
}

test("the journal clock is strictly increasing, also within one microsecond and when the wall clock steps back", () => {
  const clock = new JournalClock(0);
  const now = 1_700_000_000_000_000;
  assert.equal([clock.next(now), clock.next(now), clock.next(now), clock.next(now - 5_000_000), clock.next(now + 10)], [now, now + 1, now + 2, now + 3, now + 10]);
  assert.is(new JournalClock(now + 50).next(now), now + 51, "it continues after the last timestamp stored");
});

test("an offset is a cursor: later events, and at its timestamp those not seen", () => {
  const cursor = cursorOf([{ timestamp: { seconds: "1700000000", nanos: 5000 }, seen: [{ persistence_id: "R|a", seq_nr: "2" }] }]);
  assert.is(cursor.micros, 1_700_000_000_000_005);
  assert.not.ok(isAfter(cursor, { persistenceId: "R|a", seqNr: 2, micros: cursor.micros }));
  assert.ok(isAfter(cursor, { persistenceId: "R|b", seqNr: 1, micros: cursor.micros }));
  assert.not.ok(isAfter(cursor, { persistenceId: "R|b", seqNr: 1, micros: cursor.micros - 1 }));
  assert.ok(isAfter(cursor, { persistenceId: "R|a", seqNr: 2, micros: cursor.micros + 1 }));
  const next = advance(cursor, { persistenceId: "R|b", seqNr: 1, micros: cursor.micros });
  assert.equal([...next.seen].sort(), ["R|a#2", "R|b#1"]);
  assert.equal(advance(next, { persistenceId: "R|c", seqNr: 4, micros: cursor.micros + 9 }), { micros: cursor.micros + 9, seen: new Set(["R|c#4"]) });
  assert.equal(cursorOf([]), START, "no offset: from the start");
  const earliest = cursorOf([{ timestamp: { seconds: "20", nanos: 0 }, seen: [] }, { timestamp: { seconds: "10", nanos: 0 }, seen: [] }]);
  assert.is(earliest.micros, 10_000_000, "of several offsets the earliest wins");
  assert.throws(() => cursorOf([{ timestamp: { seconds: "1", nanos: 2_000_000_000 }, seen: [] }]), /nanos/);
  assert.throws(() => cursorOf([{ timestamp: { seconds: "1", nanos: 0 }, seen: [{ persistence_id: "R|a", seq_nr: "0" }] }]), /seq_nr of R\|a/);
});

test("a TemperatureRead becomes a whole-degree temperature timed by the event's timestamp", () => {
  const consumed = consumeEvent(received(temperatureRead("s-1", 7, -4, 1_700_000_000_123)), "gw", "temperature-events");
  assert.is(consumed.kind, "observation");
  if (consumed.kind !== "observation") return;
  const { payload, ...observation } = consumed.observation;
  assert.equal(observation, {
    sensorId: "s-1", seq: 7, boot: 0, uptimeMs: 0, time: 1_700_000_000_123, timeSource: "gateway",
    readings: [{ quantity: "temperature", value: -4 }], receivedAt: 1_700_000_000_123,
  });
  assert.is(payload?.type_url, "type.googleapis.com/iot.temperature.TemperatureRead", "the original payload is kept");
});

test("an ObservationRecorded becomes the whole observation, and one built from it says the same", () => {
  const consumed = consumeEvent(received(observationRecorded("s-2", 9)), "gw", "temperature-events");
  assert.is(consumed.kind, "observation");
  if (consumed.kind !== "observation") return;
  const { payload: _payload, ...observation } = consumed.observation;
  const expected = {
    sensorId: "s-2", seq: 9, boot: 3, uptimeMs: 5000, time: 1_700_000_000_500, timeSource: "device" as const,
    readings: [{ quantity: "temperature" as const, value: 21.37 }, { quantity: "humidity" as const, value: 40.5 }], receivedAt: 1_700_000_000_900,
  };
  assert.equal(observation, expected);
  const rebuilt = recordedPayloadOf({ ...expected, readings: [{ ...expected.readings[0], unit: "Cel" }, { ...expected.readings[1], unit: "%RH" }] });
  const again = consumeEvent(received(eventOf("s-2", 9, rebuilt)), "gw", "temperature-events");
  assert.equal(again.kind === "observation" && { ...again.observation, payload: undefined }, { ...expected, payload: undefined });
  assert.is(unpackAny(rebuilt, [OBSERVATION_RECORDED]).type, OBSERVATION_RECORDED);
});

const refused: Array<[string, { event: unknown }, string, RegExp]> = [
  ["an unknown payload type", eventOf("s-1", 1, { type_url: "type.googleapis.com/other.Thing", value: Buffer.from([1, 2]) }), "unknown-payload-type", /unknown payload type "type.googleapis.com\/other.Thing"/],
  ["undecodable payload bytes", eventOf("s-1", 1, { type_url: "type.googleapis.com/iot.temperature.TemperatureRead", value: Buffer.from([0x08]) }), "malformed-payload", /malformed iot.temperature.TemperatureRead/],
  ["an ObservationRecorded of another sensor", observationRecorded("s-1", 1, { sensor_id: "s-9" }), "malformed-payload", /sensor_id: "s-9" is not the event's sensor "s-1"/],
  ["an ObservationRecorded with another seq", observationRecorded("s-1", 1, { seq: 2 }), "malformed-payload", /seq: 2 is not the event's seq_nr 1/],
  ["an ObservationRecorded with an unknown quantity", observationRecorded("s-1", 1, { readings: [{ quantity: "colour", unit: "", value: 1 }] }), "malformed-payload", /readings\[0\]\.quantity/],
  ["an ObservationRecorded with no readings", observationRecorded("s-1", 1, { readings: [] }), "malformed-payload", /readings: must be an array of 1 to 8/],
  ["no payload", eventOf("s-1", 1, null), "malformed-event", /has no payload/],
  ["seq_nr 0", { event: { ...temperatureRead("s-1", 1, 20).event, seq_nr: 0 } }, "malformed-event", /seq_nr of Sensor\|s-1 must be an integer from 1/],
  ["a persistence id without entity type", { event: { ...temperatureRead("s-1", 1, 20).event, persistence_id: "s-1" } }, "malformed-event", /"s-1" is not "<EntityType>\|<entityId>"/],
  ["an entity id that is no sensor id", { event: { ...temperatureRead("s-1", 1, 20).event, persistence_id: "Sensor|a b" } }, "malformed-event", /entity id "a b"/],
  ["no offset timestamp", { event: { ...temperatureRead("s-1", 1, 20).event, offset: null } }, "malformed-event", /no offset timestamp/],
];

for (const [what, message, reason, detail] of refused) {
  test(`${what} is quarantined as ${reason}, with the event's bytes`, () => {
    const event = received(message);
    const consumed = consumeEvent(event, "gw-1", "temperature-events");
    assert.is(consumed.kind, "quarantine");
    if (consumed.kind !== "quarantine") return;
    const q = consumed.quarantined;
    assert.is(q.reason, reason);
    assert.match(q.detail, detail);
    assert.equal([q.originId, q.streamId, q.persistenceId, q.seqNr], ["gw-1", "temperature-events", event.persistence_id, event.seq_nr]);
    const type = messageType("akka.projection.grpc.Event");
    assert.is((type.toObject(type.decode(q.event), { longs: String }) as { persistence_id: string }).persistence_id, event.persistence_id);
  });
}

test("a payload that packs is not refused for a missing unit (proto3 leaves it empty)", () => {
  const any = packAny(OBSERVATION_RECORDED, { sensor_id: "s-1", seq: 1, boot: 0, uptime_ms: 0, readings: [{ quantity: "pressure", value: 101325 }] });
  const consumed = consumeEvent(received(eventOf("s-1", 1, any, 1_700_000_000_000)), "gw", "temperature-events");
  assert.is(consumed.kind, "observation");
  assert.is(consumed.kind === "observation" && consumed.observation.receivedAt, 1_700_000_000_000, "no received_at: the event's timestamp");
});

test.run();
