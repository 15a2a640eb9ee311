/*
 * The gateway relaying over Akka Projection gRPC producer push: devices
 * publish over MQTT, a real gateway stores and relays through the akka-grpc
 * connector, and a fake EventConsumerService on 127.0.0.1 records what
 * arrives and acks it. Covers both payload kinds, acks before marking,
 * the in-flight window, keep-alives, a gateway restart and mutual TLS.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Event, FilteredEvent } from "../../../hosts/grpc/messages.js";
import { OBSERVATION_RECORDED, TEMPERATURE_READ, unpackAny } from "../../../hosts/grpc/payload.js";
import { sliceOf } from "../../../hosts/grpc/persistence-id.js";
import { millisOf } from "../../../hosts/grpc/timestamp.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { FakeEventConsumer } from "../../support/fake-event-consumer.js";
import { prefilledDataDir, startProducerGateway } from "../../support/akka-producer-gateway.js";
import { anchorPayload, obsPayload, WALL } from "../../support/gateway-records.js";
import { makeTestCertificates } from "../../support/test-certificates.js";
import { waitFor } from "../../support/test-helpers.js";

const humidityOnly = (sensorId: string, seq: number) => encodeObservation({ sensorId, seq, boot: 1, uptimeMs: seq * 1000, readings: [{ quantity: "humidity", value: 40 }] });

test("observations arrive as TemperatureRead events with pid, seq_nr, slice and offset; one without a temperature as a FilteredEvent", async () => {
  const fake = await FakeEventConsumer.start();
  const t = await startProducerGateway({ target: fake.target, payload: "temperature" });
  try {
    await t.publish("s-1", [obsPayload("s-1", 1, 1, 21.5), obsPayload("s-1", 2, 1, -3.5), humidityOnly("s-1", 4)]);
    await t.publish("s-2", [obsPayload("s-2", 7, 1, 19.2)]);
    await waitFor("every row acknowledged and marked", () => t.gateway.store.counts().unrelayed === 0);
    assert.equal(fake.inits, [{ origin_id: "xsedge-gateway", stream_id: "temperature-events", fill_sequence_number_gaps: true }]);
    assert.is(fake.eventsBeforeStart, 0);
    const byKey = new Map(fake.events.map((e) => [`${e.persistenceId}#${e.seqNr}`, e]));
    assert.equal([...byKey.keys()].sort(), ["Sensor|s-1#1", "Sensor|s-1#2", "Sensor|s-1#4", "Sensor|s-2#7"]);
    const temperatures: Record<string, number> = { "Sensor|s-1#1": 22, "Sensor|s-1#2": -3, "Sensor|s-2#7": 19 };
    for (const [key, degrees] of Object.entries(temperatures)) {
      const received = byKey.get(key)!;
      const event = received.message as Event;
      const [sensorId, seq] = [key.slice("Sensor|".length, key.indexOf("#")), Number(key.slice(key.indexOf("#") + 1))];
      assert.is(received.kind, "event");
      assert.is(event.slice, sliceOf(`Sensor|${sensorId}`));
      assert.is(event.source, "");
      assert.equal(unpackAny(event.payload, [TEMPERATURE_READ]).message, { temperature: degrees });
      assert.equal(event.offset[0].seen, [{ persistence_id: `Sensor|${sensorId}`, seq_nr: String(seq) }]);
      assert.is(millisOf(event.offset[0].timestamp!), t.gateway.store.find(sensorId, seq)!.receivedAt, "the offset is the gateway's receive time");
    }
    const filtered = byKey.get("Sensor|s-1#4")!;
    assert.is(filtered.kind, "filtered_event");
    assert.is((filtered.message as FilteredEvent).seq_nr, "4");
    const stats = t.connector.stats();
    assert.is(stats.acked, 4);
    assert.is(stats.filteredEventsSent, 1);
    assert.is(stats.streamsStarted, 1);
    assert.ok(stats.connected);
    assert.is(t.gateway.stats().relay.relayed, 4);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("the observation payload carries every reading, the device's clock and the receive time", async () => {
  const fake = await FakeEventConsumer.start();
  const t = await startProducerGateway({ target: fake.target, payload: "observation", originId: "edge-iot-service" });
  try {
    await t.publish("s-1", [anchorPayload("s-1", 1, 0, WALL), obsPayload("s-1", 3, 1, 21.37), humidityOnly("s-1", 4)]);
    await waitFor("both observations at the consumer", () => t.gateway.store.counts().unrelayed === 0 && fake.events.length === 2);
    assert.is(fake.inits[0].origin_id, "edge-iot-service");
    const [timed, humid] = [...fake.events].sort((a, b) => a.seqNr - b.seqNr);
    assert.ok(timed.kind === "event" && humid.kind === "event", "no FilteredEvent in this payload kind");
    const decoded = unpackAny<Record<string, unknown>>((timed.message as Event).payload, [OBSERVATION_RECORDED]).message;
    assert.is(decoded.sensor_id, "s-1");
    assert.is(decoded.seq, "3");
    assert.equal(decoded.readings, [{ quantity: "temperature", unit: "Cel", value: 21.37 }]);
    assert.is(decoded.time_source, "TIME_SOURCE_DEVICE");
    assert.is(millisOf(decoded.time as { seconds: string; nanos: number }), WALL + 3000, "anchor at uptime 0 = WALL, observation at uptime 3000 ms");
    assert.is(millisOf(decoded.received_at as { seconds: string; nanos: number }), t.gateway.store.find("s-1", 3)!.receivedAt);
    const humidity = unpackAny<Record<string, unknown>>((humid.message as Event).payload, [OBSERVATION_RECORDED]).message;
    assert.equal(humidity.readings, [{ quantity: "humidity", unit: "%RH", value: 40 }]);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("rows are marked relayed only once acked; never more than maxInFlight unacked; keep-alives while idle", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const dataDir = prefilledDataDir("s-1", 8);
  const t = await startProducerGateway({ target: fake.target, maxInFlight: 3, keepAliveMs: 100 }, dataDir);
  try {
    await waitFor("a full window at the consumer", () => fake.events.length === 3);
    // A keep-alive is written only after the connector has had its chance to write more; on one stream it arrives after anything written before it.
    await waitFor("a keep-alive while the window is full", () => fake.keepAlives >= 1);
    assert.is(fake.events.length, 3, "no fourth event while three are unacknowledged");
    assert.is(t.connector.stats().inFlight, 3);
    fake.releaseAcks(2);
    await waitFor("two more events for the two acks", () => fake.events.length === 5);
    assert.is(t.gateway.store.counts().unrelayed, 8, "nothing marked before the whole batch is answered");
    fake.autoAck = true;
    fake.releaseAcks();
    await waitFor("every row marked", () => t.gateway.store.counts().unrelayed === 0);
    assert.is(fake.maxUnacked, 3);
    assert.equal(fake.events.map((e) => e.seqNr), [1, 2, 3, 4, 5, 6, 7, 8]);
    const idle = fake.keepAlives;
    await waitFor("keep-alives on the idle stream", () => fake.keepAlives >= idle + 2);
    assert.is(t.connector.stats().eventsSent, 8);
    assert.ok(t.connector.stats().keepAlivesSent >= idle + 2);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("a gateway restart with events in flight loses nothing: the unacknowledged are sent again", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const dataDir = prefilledDataDir("s-1", 5);
  const first = await startProducerGateway({ target: fake.target, ackTimeoutMs: 300 }, dataDir);
  await waitFor("five events in flight", () => fake.events.length === 5);
  fake.releaseAcks(2);
  await waitFor("the two acks at the gateway", () => first.connector.stats().acked === 2);
  // Close waits for the batch in flight: its ack timeout ends it with 2 of 5 acked.
  await first.stop();
  const second = await startProducerGateway({ target: fake.target }, dataDir);
  try {
    assert.is(second.gateway.store.counts().unrelayed, 3);
    fake.autoAck = true;
    await waitFor("the rest delivered", () => second.gateway.store.counts().unrelayed === 0);
    const resent = fake.events.filter((e) => e.stream === 2).map((e) => e.seqNr);
    assert.equal(resent, [3, 4, 5], "exactly the unacknowledged, on the new stream");
    assert.is(fake.acked.size, 5);
  } finally {
    await second.done();
    await fake.close();
  }
});

test("mutual TLS: the gateway's client certificate is accepted; a certificate from another CA is refused and the relay says so", async () => {
  const certs = makeTestCertificates("akka-producer-tls");
  const fake = await FakeEventConsumer.start({ tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile } });
  const good = await startProducerGateway({ target: fake.target, tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile } }, prefilledDataDir("s-1", 2));
  const rogue = await startProducerGateway({ target: fake.target, tls: { caFile: certs.caFile, certFile: certs.rogueCertFile, keyFile: certs.rogueKeyFile } }, prefilledDataDir("s-2", 2));
  try {
    await waitFor("delivery over mutual TLS", () => good.gateway.store.counts().unrelayed === 0);
    await waitFor("the rogue gateway's relay failing", () => rogue.gateway.stats().relay.failures >= 2);
    const relay = rogue.gateway.stats().relay;
    assert.match(relay.lastError!, /127\.0\.0\.1:\d+ is unavailable \(UNAVAILABLE: /);
    assert.ok(rogue.connector.stats().unavailable >= 2);
    assert.is(relay.backlog, 2);
    assert.ok(fake.events.every((e) => e.persistenceId === "Sensor|s-1"), "nothing from the rogue gateway reached the consumer");
    assert.is(rogue.connector.stats().streamsStarted, 0);
  } finally {
    await good.done();
    await rogue.done();
    await fake.close();
    certs.remove();
  }
});

test.run();
