/*
 * The Akka stand-in's consumer side (ConsumeEvent of temperature-events)
 * through a grpc-js client built from its own protos: store then ack, repeats
 * counted and stored once, refusals, the never-ack and reset switches; then
 * the stand-in as a process that is SIGKILLed and restarted, and over TLS
 * with a client certificate.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { standinClients, type StandinClients } from "../support/akka-standin/client.js";
import { withStandin } from "../support/akka-standin/fixture.js";
import { encodeTemperatureRead, TEMPERATURE_READ_TYPE_URL } from "../support/akka-standin/protos.js";
import { sliceOf } from "../support/akka-standin/slice.js";
import { startAkkaStandin } from "../support/akka-standin/standin.js";
import { StandinProcess } from "../support/akka-standin/standin-process.js";
import { StandinStore } from "../support/akka-standin/standin-store.js";
import { StreamRecorder } from "../support/akka-standin/stream-recorder.js";
import { makeTestPki } from "../support/akka-standin/test-pki.js";
import type { ConsumeEventIn, ConsumeEventOut, Event, StreamOut } from "../support/akka-standin/wire.js";
import { quietLogger, tempDir, waitFor } from "../support/test-helpers.js";

const INIT: ConsumeEventIn = { init: { origin_id: "edge-iot-service", stream_id: "temperature-events", fill_sequence_number_gaps: false } };

function reading(sensor: string, seqNr: number, temperature: number, payload?: Event["payload"]): ConsumeEventIn {
  const persistenceId = `Sensor|${sensor}`;
  return {
    event: {
      persistence_id: persistenceId, seq_nr: seqNr, slice: sliceOf(persistenceId), source: "", tags: [],
      offset: [{ timestamp: { seconds: 1_700_000_000 + seqNr, nanos: 250_000_000 }, seen: [{ persistence_id: persistenceId, seq_nr: seqNr }] }],
      payload: payload ?? { type_url: TEMPERATURE_READ_TYPE_URL, value: encodeTemperatureRead(temperature) },
    },
  };
}

function consume(clients: StandinClients, first: ConsumeEventIn = INIT) {
  const stream = clients.consumeEvent();
  const recorder = new StreamRecorder<ConsumeEventOut>(stream);
  stream.write(first);
  return { stream, recorder };
}

const acks = (messages: ConsumeEventOut[]) => messages.filter((m) => m.ack).map((m) => `${m.ack!.persistence_id}#${m.ack!.seq_nr}`);

test("answers init with ConsumerEventStart, stores each event and acks it; a repeat is acked again, stored once, counted", () => withStandin({}, async (standin, clients) => {
  const { stream, recorder } = consume(clients);
  const [start] = await recorder.count(1);
  assert.ok(start.start, "the first answer is ConsumerEventStart");
  stream.write(reading("1", 1, 20));
  stream.write(reading("1", 2, 21));
  stream.write({ keep_alive: {} });
  stream.write(reading("1", 1, 20));
  await recorder.count(4);
  assert.equal(acks(recorder.messages), ["Sensor|1#1", "Sensor|1#2", "Sensor|1#1"]);
  const rows = standin.consumed();
  assert.equal(rows.map((r) => [r.persistenceId, r.seqNr, r.temperature, r.originId]), [["Sensor|1", 1, 20, "edge-iot-service"], ["Sensor|1", 2, 21, "edge-iot-service"]]);
  assert.equal(rows[0].timestamp, { seconds: 1_700_000_001, nanos: 250_000_000 });
  assert.is(standin.duplicates, 1);
  assert.is(standin.counters().keep_alives, 1);
  assert.equal(await clients.getTemperature("1"), { sensor_entity_id: "1", temperature: 21 });
  assert.is((await clients.getTemperature("2").catch((e) => e)).code, grpc.status.NOT_FOUND);
  stream.end();
}));

test("keeps an unknown payload type opaque, stores a FilteredEvent marker, and keeps the first of two different events under one seq_nr", () => withStandin({}, async (standin, clients) => {
  const { stream, recorder } = consume(clients);
  const observation = { type_url: "type.googleapis.com/xsedge.Observation", value: Buffer.from([0xa1, 0x01, 0x02]) };
  stream.write(reading("2", 1, 0, observation));
  const filtered = reading("2", 2, 0).event!;
  stream.write({ filtered_event: { persistence_id: filtered.persistence_id, seq_nr: 2, slice: filtered.slice, offset: filtered.offset, source: "" } });
  stream.write(reading("2", 1, 30));
  await recorder.count(4);
  assert.equal(acks(recorder.messages), ["Sensor|2#1", "Sensor|2#2", "Sensor|2#1"]);
  const [first, marker] = standin.consumed();
  assert.is(first.typeUrl, observation.type_url);
  assert.ok(first.payload!.equals(observation.value));
  assert.is(first.temperature, null);
  assert.equal([marker.kind, marker.payload, marker.seqNr], ["filtered", null, 2]);
  assert.is(standin.counters().conflicts, 1);
  assert.is(standin.duplicates, 0);
  stream.end();
}));

test("refuses a first message that is not init, a stream id it does not take, and malformed events; stores none of them", () => withStandin({}, async (standin, clients) => {
  const notInit = consume(clients, reading("3", 1, 20));
  assert.is((await notInit.recorder.failure()).code, grpc.status.INVALID_ARGUMENT);
  const wrongStream = consume(clients, { init: { origin_id: "edge", stream_id: "registration-events", fill_sequence_number_gaps: false } });
  assert.is((await wrongStream.recorder.failure()).code, grpc.status.PERMISSION_DENIED);
  assert.match(wrongStream.recorder.error!.details, /registration-events/);
  const badPayload = consume(clients);
  badPayload.stream.write(reading("3", 1, 0, { type_url: TEMPERATURE_READ_TYPE_URL, value: Buffer.from([0x08]) }));
  assert.is((await badPayload.recorder.failure()).code, grpc.status.INVALID_ARGUMENT);
  assert.match(badPayload.recorder.error!.details, /Sensor\|3.*not a valid iot.temperature.TemperatureRead/);
  const badSlice = consume(clients);
  badSlice.stream.write({ event: { ...reading("3", 1, 20).event!, slice: 0 } });
  assert.match((await badSlice.recorder.failure()).details, /slice 0 should be/);
  assert.equal(standin.consumed(), []);
  assert.is(standin.counters().rejected, 4);
}));

test("a server that never acks still stores; acks come again once the switch is off", () => withStandin({ switches: { neverAck: true } }, async (standin, clients) => {
  const { stream, recorder } = consume(clients);
  stream.write(reading("4", 1, 20));
  await waitFor("the event to be stored", () => standin.consumed().length === 1);
  standin.switches.set({ neverAck: false });
  stream.write(reading("4", 2, 21));
  await recorder.count(2);
  // Acks go out in order: had the first been sent it would be here before the second.
  assert.equal(acks(recorder.messages), ["Sensor|4#2"]);
  assert.is(standin.counters().acks_withheld, 1);
  stream.end();
}));

test("a stream reset after N events: the Nth is stored but not acked, and its resend is a counted duplicate", () => withStandin({ switches: { resetAfterEvents: 2 } }, async (standin, clients) => {
  const first = consume(clients);
  first.stream.write(reading("5", 1, 20));
  first.stream.write(reading("5", 2, 21));
  assert.is((await first.recorder.failure()).code, grpc.status.INTERNAL);
  assert.equal(acks(first.recorder.messages), ["Sensor|5#1"]);
  standin.switches.set({ resetAfterEvents: null });
  const second = consume(clients);
  second.stream.write(reading("5", 2, 21));
  await second.recorder.count(2);
  assert.equal(acks(second.recorder.messages), ["Sensor|5#2"]);
  assert.equal(standin.consumed().map((r) => r.seqNr), [1, 2]);
  assert.is(standin.duplicates, 1);
  second.stream.end();
}));

test("SIGKILLed mid-stream and restarted on its port, the stand-in keeps its journal, consumed events and counts", async () => {
  const dir = tempDir("akka-standin-process");
  let standin = await StandinProcess.start(dir.path);
  const clients = standinClients(standin.port);
  try {
    await clients.register("7", "secret-7");
    const registrations = clients.eventsBySlices();
    const replay = new StreamRecorder<StreamOut>(registrations);
    registrations.write({ init: { stream_id: "registration-events", slice_min: 0, slice_max: 1023, offset: [], filter: [] } });
    const [registered] = await replay.count(1);
    const { stream, recorder } = consume(clients);
    stream.write(reading("7", 1, 19));
    await recorder.count(2);
    await standin.kill();
    assert.is((await replay.failure()).code, grpc.status.UNAVAILABLE);
    await recorder.failure();

    standin = await StandinProcess.start(dir.path, [], standin.port);
    const again = clients.eventsBySlices();
    const resumed = new StreamRecorder<StreamOut>(again);
    again.write({ init: { stream_id: "registration-events", slice_min: 0, slice_max: 1023, offset: [], filter: [] } });
    assert.equal(await resumed.count(1), [registered]);
    const redelivery = consume(clients);
    redelivery.stream.write(reading("7", 1, 19));
    await redelivery.recorder.count(2);
    await clients.register("7", "secret-7b");
    assert.is((await resumed.count(2))[1].event!.seq_nr, 2);
    const store = new StandinStore(dir.path);
    try {
      assert.equal(store.consumed().map((r) => [r.persistenceId, r.seqNr, r.temperature]), [["Sensor|7", 1, 19]]);
      assert.is(store.counters().duplicates, 1);
    } finally {
      store.close();
    }
    again.cancel();
    redelivery.stream.end();
  } finally {
    clients.close();
    await standin.stop();
    dir.remove();
  }
});

test("the process takes its switches from the command line and refuses bad ones by name", async () => {
  const dir = tempDir("akka-standin-cli");
  const refused = await StandinProcess.start(dir.path, ["--reset-after", "0"]).catch((e: Error) => e);
  assert.match(String(refused), /--reset-after must be an integer of at least 1, not "0"/);
  const standin = await StandinProcess.start(dir.path, ["--backtrack-every", "1"]);
  const clients = standinClients(standin.port);
  try {
    await clients.register("10", "secret-10");
    const stream = clients.eventsBySlices();
    const recorder = new StreamRecorder<StreamOut>(stream);
    stream.write({ init: { stream_id: "registration-events", slice_min: 0, slice_max: 1023, offset: [], filter: [] } });
    const [event] = await recorder.count(1);
    assert.equal([event.event!.source, event.event!.payload], ["BT", null]);
    stream.cancel();
  } finally {
    clients.close();
    await standin.stop();
    dir.remove();
  }
});

test("over TLS it serves a client whose certificate the CA signed, and refuses one without a certificate", async () => {
  const dir = tempDir("akka-standin-tls");
  const pki = makeTestPki(dir.path);
  const standin = await startAkkaStandin({ dataDir: dir.path, logger: quietLogger(), tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caFile } });
  const ca = readFileSync(pki.caFile);
  const withCert = standinClients(standin.port, grpc.credentials.createSsl(ca, readFileSync(pki.clientKey), readFileSync(pki.clientCert)));
  const withoutCert = standinClients(standin.port, grpc.credentials.createSsl(ca));
  try {
    await withCert.register("8", "secret-8");
    assert.is(standin.counters().registered, 1);
    const refused = await withoutCert.register("9", "secret-9").catch((e) => e);
    assert.is(refused.code, grpc.status.UNAVAILABLE);
    assert.match(refused.details, /certificate required/);
    assert.is(standin.counters().registered, 1);
  } finally {
    withCert.close();
    withoutCert.close();
    await standin.close();
    dir.remove();
  }
});

test.run();
