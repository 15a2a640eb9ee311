/*
 * The Akka gRPC producer's pure core: observations as events (both payload
 * kinds, FilteredEvent, rounding, offsets), the in-flight window, the
 * keep-alive and ack-timeout decisions, status and message reading.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import type { RelayedObservation } from "../../../hosts/gateway/relay/connector.js";
import { EventEncodingError, encodeObservationEvent, wholeDegrees, type EncodedEvent } from "../../../hosts/gateway/relay/connectors/akka-grpc-event.js";
import { InFlightWindow } from "../../../hosts/gateway/relay/connectors/akka-grpc-window.js";
import { AdaptiveAckTimeout, MAX_ACK_TIMEOUT_MS, nextStreamTimer, waitingSinceAfter } from "../../../hosts/gateway/relay/connectors/akka-grpc-timing.js";
import { errorOfStatus, faultOfStatus, readServerMessage } from "../../../hosts/gateway/relay/connectors/akka-grpc-errors.js";
import { createAkkaGrpcConnector } from "../../../hosts/gateway/relay/connectors/akka-grpc.js";
import { OBSERVATION_RECORDED, TEMPERATURE_READ, unpackAny } from "../../../hosts/grpc/payload.js";
import { sliceOf } from "../../../hosts/grpc/persistence-id.js";
import type { EventIn, FilteredEventIn } from "../../../hosts/grpc/messages.js";

const RECEIVED = 1_795_000_000_123;

function relayed(seq: number, readings: RelayedObservation["readings"], extra: Partial<RelayedObservation> = {}): RelayedObservation {
  return { sensorId: "s-1", seq, boot: 2, uptimeMs: 5000, readings, receivedAt: RECEIVED, ...extra };
}

const TEMPERATURE = { entityType: "Sensor", payload: "temperature" } as const;
const OBSERVATION = { entityType: "Sensor", payload: "observation" } as const;

test("a temperature observation is an Event with the pid, seq_nr, slice, offset and a whole-degree TemperatureRead", () => {
  const encoded = encodeObservationEvent(relayed(7, [{ quantity: "humidity", value: 40 }, { quantity: "temperature", value: 21.5 }]), TEMPERATURE);
  assert.is(encoded.persistenceId, "Sensor|s-1");
  assert.equal(encoded.key, { sensorId: "s-1", seq: 7 });
  assert.is(encoded.filtered, false);
  const event = (encoded.message as { event: EventIn }).event;
  assert.is(event.persistence_id, "Sensor|s-1");
  assert.is(event.seq_nr, 7);
  assert.is(event.slice, sliceOf("Sensor|s-1"));
  assert.is(event.source, "");
  assert.equal(event.offset, [{ timestamp: { seconds: 1_795_000_000, nanos: 123_000_000 }, seen: [{ persistence_id: "Sensor|s-1", seq_nr: 7 }] }]);
  assert.equal(unpackAny(event.payload, [TEMPERATURE_READ]), { type: TEMPERATURE_READ, message: { temperature: 22 } });
});

test("whole degrees round half up as Java does, and refuse what no int32 holds", () => {
  const degrees = (value: number) => wholeDegrees(relayed(1, [{ quantity: "temperature", value }]));
  assert.is(degrees(-2.5), -2);
  assert.is(degrees(-2.51), -3);
  assert.is(degrees(0.49), 0);
  assert.is(wholeDegrees(relayed(1, [{ quantity: "pressure", value: 101325 }])), null);
  assert.throws(() => degrees(3e10), (e: Error) => e instanceof EventEncodingError && /s-1#1.*temperature 30000000000 is not an int32/.test(e.message));
});

test("without a temperature, the temperature kind sends a FilteredEvent so the seq_nr sequence stays whole", () => {
  const encoded = encodeObservationEvent(relayed(3, [{ quantity: "humidity", value: 40 }]), TEMPERATURE);
  assert.is(encoded.filtered, true);
  const filtered = (encoded.message as { filtered_event: FilteredEventIn }).filtered_event;
  assert.equal(Object.keys(encoded.message), ["filtered_event"]);
  assert.is(filtered.seq_nr, 3);
  assert.is(filtered.slice, sliceOf("Sensor|s-1"));
  assert.is(filtered.source, "");
  assert.equal(filtered.offset[0].seen, [{ persistence_id: "Sensor|s-1", seq_nr: 3 }]);
});

test("the observation kind carries every reading with its unit, the device clock and the receive time", () => {
  const timed = encodeObservationEvent(relayed(4, [{ quantity: "temperature", value: 21.37 }, { quantity: "pressure", value: 101325 }], { time: 1_795_000_000_500, timeSource: "device" }), OBSERVATION);
  const { type, message } = unpackAny<Record<string, unknown>>((timed.message as { event: EventIn }).event.payload, [OBSERVATION_RECORDED]);
  assert.is(type, OBSERVATION_RECORDED);
  assert.equal(message, {
    sensor_id: "s-1",
    seq: "4",
    boot: 2,
    uptime_ms: "5000",
    time: { seconds: "1795000000", nanos: 500_000_000 },
    time_source: "TIME_SOURCE_DEVICE",
    readings: [
      { quantity: "temperature", unit: "Cel", value: 21.37 },
      { quantity: "pressure", unit: "Pa", value: 101325 },
    ],
    received_at: { seconds: "1795000000", nanos: 123_000_000 },
  });
  // No anchor yet: no time at all rather than a made-up one; and no FilteredEvent in this kind.
  const untimed = encodeObservationEvent(relayed(5, [{ quantity: "humidity", value: 40 }]), OBSERVATION);
  assert.is(untimed.filtered, false);
  const decoded = unpackAny<Record<string, unknown>>((untimed.message as { event: EventIn }).event.payload, [OBSERVATION_RECORDED]).message;
  assert.is(decoded.time, null);
  assert.is(decoded.time_source, "TIME_SOURCE_UNSPECIFIED");
});

test("an entity type of our choosing, any sensor id; a bad seq or receive time is an EventEncodingError naming the observation", () => {
  assert.is(encodeObservationEvent(relayed(1, [{ quantity: "temperature", value: 1 }], { sensorId: "a:b.c" }), { ...TEMPERATURE, entityType: "Thermo" }).persistenceId, "Thermo|a:b.c");
  assert.throws(() => encodeObservationEvent(relayed(0, []), TEMPERATURE), /s-1#0 as an event: seq must be an integer >= 1/);
  assert.throws(() => encodeObservationEvent(relayed(2, [], { receivedAt: -1 }), TEMPERATURE), /s-1#2 as an event: receivedAt: timestamp must be a non-negative/);
});

function events(count: number, sensorId = "s-1"): EncodedEvent[] {
  return Array.from({ length: count }, (_, i) => encodeObservationEvent(relayed(i + 1, [{ quantity: "temperature", value: 20 }], { sensorId }), TEMPERATURE));
}

test("the window lets at most maxInFlight out, matches acks by pid and seq_nr in any order, and knows what is unacked", () => {
  const window = new InFlightWindow(events(5), 2);
  assert.equal(window.takeSendable().map((e) => e.seqNr), [1, 2]);
  assert.equal(window.takeSendable(), [], "a full window sends nothing more");
  assert.is(window.inFlight, 2);
  assert.is(window.ack("Sensor|s-1", 2), "acked");
  assert.is(window.ack("Sensor|s-1", 2), "not-in-flight", "a second ack for one event");
  assert.is(window.ack("Sensor|s-1", 4), "not-in-flight", "not sent yet");
  assert.is(window.ack("Sensor|other", 1), "not-in-flight");
  assert.equal(window.takeSendable().map((e) => e.seqNr), [3]);
  assert.equal(window.acked(), [{ sensorId: "s-1", seq: 2 }]);
  assert.equal(window.unacked(), [{ sensorId: "s-1", seq: 1 }, { sensorId: "s-1", seq: 3 }, { sensorId: "s-1", seq: 4 }, { sensorId: "s-1", seq: 5 }]);
  for (const seq of [1, 3]) window.ack("Sensor|s-1", seq);
  window.takeSendable();
  for (const seq of [5, 4]) window.ack("Sensor|s-1", seq);
  assert.ok(window.complete);
  assert.equal(window.unacked(), []);
});

test("the window sends one event per key and refuses a window of nothing", () => {
  const [first] = events(1);
  const window = new InFlightWindow([first, first], 10);
  assert.is(window.takeSendable().length, 1);
  window.ack(first.persistenceId, first.seqNr);
  assert.ok(window.complete);
  assert.throws(() => new InFlightWindow([], 0), /maxInFlight must be a positive integer/);
});

test("keep-alive after keepAliveMs without a write; ack timeout after ackTimeoutMs without progress, first", () => {
  const timing = { keepAliveMs: 100, ackTimeoutMs: 1000 };
  assert.equal(nextStreamTimer({ lastWriteAt: 0, waitingSince: null }, timing, 40), { action: "wait", ms: 60 });
  assert.equal(nextStreamTimer({ lastWriteAt: 0, waitingSince: null }, timing, 100), { action: "keep-alive" });
  assert.equal(nextStreamTimer({ lastWriteAt: 950, waitingSince: 0 }, timing, 960), { action: "wait", ms: 40 });
  assert.equal(nextStreamTimer({ lastWriteAt: 0, waitingSince: 0 }, timing, 1000), { action: "ack-timeout" });
  // Progress: the first send starts the clock, an ack moves it on, an empty window stops it.
  assert.is(waitingSinceAfter(null, 3, false, 10), 10);
  assert.is(waitingSinceAfter(10, 4, false, 20), 10, "more sends do not reset it");
  assert.is(waitingSinceAfter(10, 3, true, 30), 30);
  assert.is(waitingSinceAfter(30, 0, true, 40), null);
});

test("the ack timeout doubles on each timeout up to its cap, and halves after a batch acked within a quarter of it, never below its base", () => {
  const timeout = new AdaptiveAckTimeout(1000, 5000);
  assert.equal([timeout.timedOut(), timeout.timedOut(), timeout.timedOut(), timeout.timedOut()], [2000, 4000, 5000, 5000]);
  assert.is(timeout.batchAcked(1500), 5000, "a batch as slow as the cloud has been keeps it");
  assert.is(timeout.batchAcked(1250), 2500);
  assert.is(timeout.batchAcked(10), 1250);
  assert.is(timeout.batchAcked(10), 1000);
  assert.is(timeout.batchAcked(10), 1000, "never below the base");
  assert.is(new AdaptiveAckTimeout(10_000).maxMs, MAX_ACK_TIMEOUT_MS);
  assert.throws(() => new AdaptiveAckTimeout(0), RangeError);
});

test("statuses map to named faults; refusals name the stream id", () => {
  assert.is(faultOfStatus(status.PERMISSION_DENIED, "no"), "refused");
  assert.is(faultOfStatus(status.UNAVAILABLE, "down"), "unavailable");
  assert.is(faultOfStatus(status.INTERNAL, "Response message parsing error: index out of range"), "malformed");
  assert.is(faultOfStatus(status.INTERNAL, "writer failed"), "reset");
  assert.is(faultOfStatus(status.OK, ""), "reset");
  assert.is(errorOfStatus("h:1", "temperature-events", status.PERMISSION_DENIED, "not accepted").message, 'h:1 refused ConsumeEvent for stream id "temperature-events" (PERMISSION_DENIED: not accepted)');
  assert.is(errorOfStatus("h:1", "x", status.UNAVAILABLE, "No connection established").message, "h:1 is unavailable (UNAVAILABLE: No connection established)");
});

test("server messages: start, acks with exact seq_nr, anything else malformed", () => {
  assert.equal(readServerMessage({ message: "start", start: { filter: [{}, {}], replica_info: null } }), { type: "start", filters: 2 });
  assert.equal(readServerMessage({ message: "ack", ack: { persistence_id: "Sensor|1", seq_nr: "12" } }), { type: "ack", persistenceId: "Sensor|1", seqNr: 12 });
  assert.equal(readServerMessage({ message: "ack", ack: { persistence_id: "Sensor|1", seq_nr: "0" } }).type, "malformed");
  assert.match((readServerMessage({ message: "ack", ack: { persistence_id: "", seq_nr: "1" } }) as { reason: string }).reason, /without a persistence_id/);
  assert.equal(readServerMessage({}), { type: "malformed", reason: "neither start nor ack" });
  assert.equal(readServerMessage(null), { type: "malformed", reason: "neither start nor ack" });
});

test("connector options are checked by name", () => {
  assert.throws(() => createAkkaGrpcConnector({ target: "" }), /target must not be empty/);
  assert.throws(() => createAkkaGrpcConnector({ target: "127.0.0.1:1", maxInFlight: 0 }), /maxInFlight must be a positive integer, got 0/);
  assert.throws(() => createAkkaGrpcConnector({ target: "127.0.0.1:1", payload: "json" as never }), /payload must be "temperature" or "observation"/);
  assert.throws(() => createAkkaGrpcConnector({ target: "127.0.0.1:1", streamId: "" }), /streamId must not be empty/);
  assert.throws(() => createAkkaGrpcConnector({ target: "127.0.0.1:1", tls: { caFile: "/nonexistent/ca.pem" } }), /caFile \/nonexistent\/ca.pem/);
});

test.run();
