/*
 * The reference cloud as an Akka EventConsumerService: a gateway's events
 * are committed before they are acked, deduplicated, quarantined (and still
 * acked) when they cannot be observations, and then are observations like
 * any other: in the log, on SSE, on EventsBySlices(temperature-events).
 */
import { test } from "uvu";
import { CONSUMER_TOKEN, TEST_CREDENTIALS, authHeader } from "../support/cloud-access.js";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { join } from "node:path";
import { OBSERVATION_RECORDED, TEMPERATURE_READ, unpackAny } from "../../hosts/grpc/payload.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { CLOUD_STORE_FILE } from "../../simulator/cloud/cloud-store.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { call } from "../support/cloud-http.js";
import { SseReader } from "../support/cloud-sse.js";
import { cloudClients, ConsumeStream, EventsStream, eventOf, observationRecorded, temperatureRead, unary, type Clients } from "../support/cloud-grpc.js";
import { observation, tempDir, waitFor, whenStill } from "../support/test-helpers.js";

async function withCloud(run: (cloud: Cloud, clients: Clients, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>, acceptedStreams?: string[]): Promise<void> {
  const dir = tempDir("cloud-consume");
  const logger = createMemoryLogger("cloud");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger, acceptedStreams });
  const clients = cloudClients(cloud.grpcTarget);
  try {
    await run(cloud, clients, logger);
  } finally {
    clients.close();
    await cloud.close();
    dir.remove();
  }
}

test("ConsumeEvent starts, and each event is in the SQLite file before its ack arrives", async () => {
  await withCloud(async (cloud, clients) => {
    const stream = ConsumeStream.open(clients);
    const [start] = await stream.next(1);
    assert.is(start.message, "start");
    const file = join(cloud.store.path);
    const inFileAtAck: number[] = [];
    stream.call.on("data", (out: { message: string }) => {
      if (out.message !== "ack") return;
      // Read by another connection, the moment the ack is here: committed, not just in a buffer.
      const db = new Database(file, { readonly: true });
      inFileAtAck.push((db.prepare("SELECT COUNT(*) AS n FROM observations").get() as { n: number }).n);
      db.close();
    });
    for (let seq = 1; seq <= 3; seq++) stream.send(temperatureRead("s-1", seq, 20 + seq));
    assert.equal(await stream.waitAcks(3), ["Sensor|s-1#1", "Sensor|s-1#2", "Sensor|s-1#3"]);
    assert.ok(inFileAtAck.every((n, i) => n >= i + 1), `rows at each ack: ${inFileAtAck.join(", ")}`);
    assert.is(inFileAtAck.length, 3);
    assert.ok(file.endsWith(CLOUD_STORE_FILE));
    assert.equal(cloud.store.after(0, 10).map((o) => [o.sensorId, o.seq, o.readings[0].value]), [["s-1", 1, 21], ["s-1", 2, 22], ["s-1", 3, 23]]);
    assert.is(cloud.grpcStats().eventsConsumed, 3);
    assert.is(cloud.grpcStats().consumerStreamsOpen, 1);
    stream.close();
    await waitFor("the stream to be closed", () => cloud.grpcStats().consumerStreamsOpen === 0);
  });
});

test("a resent event is acked again and stored once; FilteredEvents and KeepAlives are acked or ignored", async () => {
  await withCloud(async (cloud, clients) => {
    const first = ConsumeStream.open(clients);
    first.send(temperatureRead("s-1", 1, 20));
    first.send(observationRecorded("s-1", 2));
    await first.waitAcks(2);
    first.close();
    // A reconnecting gateway sends what it has not seen acked: here, both again.
    const again = ConsumeStream.open(clients);
    again.send(temperatureRead("s-1", 1, 20));
    again.send({ keep_alive: {} });
    again.send(observationRecorded("s-1", 2));
    const filtered = temperatureRead("s-1", 3, 0).event;
    again.send({ filtered_event: { persistence_id: filtered.persistence_id, seq_nr: 3, slice: filtered.slice, offset: filtered.offset, source: "" } });
    assert.equal(await again.waitAcks(3), ["Sensor|s-1#1", "Sensor|s-1#2", "Sensor|s-1#3"]);
    assert.is(cloud.store.counts().observations, 2);
    const stats = cloud.grpcStats();
    assert.equal([stats.eventsConsumed, stats.duplicates, stats.filtered], [2, 2, 1]);
    again.close();
  });
});

test("a gateway that does not read its acks holds back the cloud's reading of its events, then gets every ack once it reads, with one wait for room at a time", async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on("warning", onWarning);
  try {
    await withCloud(async (cloud, clients) => {
      const stream = ConsumeStream.open(clients);
      await stream.next(1);
      stream.call.pause();
      const total = 20_000;
      for (let seq = 1; seq <= total; seq++) stream.send(temperatureRead(`s-${seq % 10}`, seq, 20));
      // Sampled until it stands still (bounded).
      const consumed = await whenStill(() => cloud.grpcStats().eventsConsumed);
      assert.ok(consumed < total, `the cloud stopped reading at ${consumed} of ${total} events while the gateway read no ack`);
      stream.call.resume();
      await stream.waitAcks(total);
      assert.is(new Set(stream.acks()).size, total, "each event acked once");
      assert.is(cloud.store.counts().observations, total);
      stream.close();
    });
  } finally {
    process.off("warning", onWarning);
  }
  assert.equal(warnings.filter((w) => w.includes("drain")), [], "no 'drain' listeners piled up on the stream");
});

test("ConsumeEvent refuses a stream id it does not accept (PERMISSION_DENIED) and a first message that is no init (INVALID_ARGUMENT)", async () => {
  await withCloud(async (cloud, clients) => {
    const denied = await ConsumeStream.open(clients, "registration-events").ended();
    assert.is(denied.code, grpc.status.PERMISSION_DENIED);
    assert.match(denied.details, /stream id "registration-events" is not accepted \(accepted: temperature-events, other-events\)/);
    const noInit = new ConsumeStream(clients.consumer.ConsumeEvent());
    noInit.send(temperatureRead("s-1", 1, 20));
    const status = await noInit.ended();
    assert.is(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /first message must be a ConsumerEventInit, got event/);
    const accepted = ConsumeStream.open(clients, "other-events");
    assert.is((await accepted.next(1))[0].message, "start");
    accepted.close();
    assert.is(cloud.store.counts().observations, 0);
    assert.is(cloud.grpcStats().callsRefused, 2);
  }, ["temperature-events", "other-events"]);
});

test("unknown, malformed and bad events are quarantined with their reason, acked, counted and logged; good ones around them are stored", async () => {
  await withCloud(async (cloud, clients, logger) => {
    const stream = ConsumeStream.open(clients);
    stream.send(temperatureRead("s-1", 1, 20));
    stream.send(eventOf("s-1", 2, { type_url: "type.googleapis.com/other.Thing", value: Buffer.from("x") }));
    stream.send(eventOf("s-1", 3, { type_url: "type.googleapis.com/" + TEMPERATURE_READ, value: Buffer.from([0x08]) }));
    stream.send({ event: { ...temperatureRead("s-1", 4, 20).event, persistence_id: "no-entity-type" } });
    stream.send(temperatureRead("s-1", 5, 25));
    // The unknown one again, as after a reconnect: acked, held once.
    stream.send(eventOf("s-1", 2, { type_url: "type.googleapis.com/other.Thing", value: Buffer.from("x") }));
    assert.equal(await stream.waitAcks(6), ["Sensor|s-1#1", "Sensor|s-1#2", "Sensor|s-1#3", "no-entity-type#4", "Sensor|s-1#5", "Sensor|s-1#2"]);
    assert.equal(cloud.store.after(0, 10).map((o) => o.seq), [1, 5]);
    const held = cloud.store.quarantine.list();
    assert.equal(held.map((q) => [q.persistenceId, q.seqNr, q.reason]), [
      ["Sensor|s-1", "2", "unknown-payload-type"], ["Sensor|s-1", "3", "malformed-payload"], ["no-entity-type", "4", "malformed-event"],
    ]);
    assert.ok(held.every((q) => q.originId === "test-gateway" && q.event.length > 0));
    assert.equal(cloud.grpcStats().quarantined, { "unknown-payload-type": 2, "malformed-payload": 1, "malformed-event": 1 });
    assert.ok(logger.lines.some((l) => l.level === "warn" && /quarantined Sensor\|s-1 seq_nr 2 \(unknown-payload-type\): unknown payload type/.test(String(l.msg))));
    const health = await call(cloud.url, "GET", "/healthz");
    assert.equal((health.body.grpc as { quarantined: unknown }).quarantined, cloud.grpcStats().quarantined);
    stream.close();
  });
});

test("consumed observations are in the log, on the SSE stream, and on EventsBySlices(temperature-events) with their payload, resumable", async () => {
  await withCloud(async (cloud, clients) => {
    // One over HTTP, the others over gRPC.
    await call(cloud.url, "POST", "/api/v1/observations", { observations: [{ ...observation("http-1", 1), time: null, timeSource: null }] });
    const sse = await SseReader.open(`${cloud.url}/api/v1/observations/stream?after=0`, authHeader(CONSUMER_TOKEN));
    const heard: number[] = [];
    cloud.onObservation((o) => heard.push(o.seq));
    const stream = ConsumeStream.open(clients);
    stream.send(temperatureRead("s-1", 7, 19));
    stream.send(observationRecorded("s-2", 9));
    await stream.waitAcks(2);
    const events = await sse.next(3);
    assert.equal(events.map((e) => [e.id, (JSON.parse(e.data) as { sensorId: string }).sensorId]), [["1", "http-1"], ["2", "s-1"], ["3", "s-2"]]);
    assert.equal(heard, [7, 9]);
    const page = await call(cloud.url, "GET", "/api/v1/observations?after=1");
    assert.equal((page.body.observations as { readings: unknown }[])[1].readings, [{ quantity: "temperature", unit: "Cel", value: 21.37 }, { quantity: "humidity", unit: "%RH", value: 40.5 }]);
    sse.close();

    const all = EventsStream.init(clients, "temperature-events");
    const out = (await all.next(3)).flatMap((m) => (m.message === "event" ? [m.event] : []));
    all.close();
    assert.equal(out.map((e) => `${e.persistence_id}#${e.seq_nr}`), ["Sensor|http-1#1", "Sensor|s-1#7", "Sensor|s-2#9"]);
    assert.is(unpackAny<{ sensor_id: string }>(out[0].payload, [OBSERVATION_RECORDED]).message.sensor_id, "http-1", "HTTP ones as ObservationRecorded");
    assert.equal(unpackAny(out[1].payload, [TEMPERATURE_READ]).message, { temperature: 19 }, "gRPC ones with the payload they came in");
    const resumed = EventsStream.init(clients, "temperature-events", out[1].offset[0] as never);
    stream.send(temperatureRead("s-1", 8, 18));
    await resumed.next(2);
    assert.equal(resumed.pairs(), ["Sensor|s-2#9", "Sensor|s-1#8"], "after the offset, then live");
    const twin = await unary<{ temperature: number }>(clients.twin, "GetTemperature", { sensor_entity_id: "s-1" });
    assert.is(twin.temperature, 18);
    const none = await unary(clients.twin, "GetTemperature", { sensor_entity_id: "nobody" }).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.is(none?.code, grpc.status.NOT_FOUND);
    resumed.close();
    stream.close();
  });
});

test.run();
