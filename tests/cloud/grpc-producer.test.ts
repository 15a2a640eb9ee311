/*
 * The reference cloud as an Akka EventProducerService: registrations (over
 * gRPC or HTTP) are a journal served live and on replay from an offset,
 * with the statuses an Akka consumer expects, and it survives a restart.
 */
import { test } from "uvu";
import { TEST_CREDENTIALS } from "../support/cloud-access.js";
import { secretDigestText } from "../../hosts/auth/secret-digest.js";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import type { StreamOut } from "../../hosts/grpc/messages.js";
import { REGISTERED, unpackAny } from "../../hosts/grpc/payload.js";
import { sliceOf } from "../../hosts/grpc/persistence-id.js";
import { microsOf } from "../../hosts/grpc/timestamp.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { call } from "../support/cloud-http.js";
import { cloudClients, EventsStream, register, unary, type Clients } from "../support/cloud-grpc.js";
import { freePort, tempDir, waitFor, whenStill } from "../support/test-helpers.js";

async function withCloud(run: (cloud: Cloud, clients: Clients) => Promise<void>): Promise<void> {
  const dir = tempDir("cloud-grpc");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger("cloud") });
  const clients = cloudClients(cloud.grpcTarget);
  try {
    await run(cloud, clients);
  } finally {
    clients.close();
    await cloud.close();
    dir.remove();
  }
}

function event(out: StreamOut) {
  if (out.message !== "event") throw new Error(`expected an event, got ${out.message}`);
  return out.event;
}

/** What Registered.secret.value carries: the reference cloud sends the secret's digest, never the secret. */
function secretOf(out: StreamOut): string {
  const value = unpackAny<{ secret: { value: string } }>(event(out).payload, [REGISTERED]).message.secret.value;
  const known = ["first secret", "second secret", "secret one", "secret two", "secret three"].find((secret) => secretDigestText(secret) === value);
  return known ?? `not a known digest: ${value}`;
}

test("Register over gRPC lists the sensor over HTTP and streams Registered events live, re-registration as seq_nr 2", async () => {
  await withCloud(async (cloud, clients) => {
    const stream = EventsStream.init(clients, "registration-events");
    await register(clients, "greenhouse-7", "first secret");
    const [first] = await stream.next(1);
    assert.is(event(first).persistence_id, "Registration|greenhouse-7");
    assert.is(event(first).seq_nr, "1");
    assert.is(event(first).slice, sliceOf("Registration|greenhouse-7"));
    assert.equal(event(first).offset[0]?.seen, [{ persistence_id: "Registration|greenhouse-7", seq_nr: "1" }]);
    assert.is(secretOf(first), "first secret");
    const list = await call(cloud.url, "GET", "/api/v1/sensors");
    assert.equal((list.body.sensors as { sensorId: string }[]).map((s) => s.sensorId), ["greenhouse-7"]);
    // HTTP registrations are journal events too.
    await call(cloud.url, "POST", "/api/v1/sensors", { sensorId: "greenhouse-7", secret: "second secret" });
    const [, second] = await stream.next(2);
    assert.equal([event(second).seq_nr, secretOf(second)], ["2", "second secret"]);
    assert.ok(microsOf(event(second).offset[0].timestamp!) > microsOf(event(first).offset[0].timestamp!));
    assert.is(cloud.grpcStats().registrations, 1);
    assert.is(cloud.grpcStats().producerStreamsOpen, 1);
    stream.close();
  });
});

test("registrations in one millisecond get distinct, ordered timestamps; a replay resumes exactly after an offset", async () => {
  await withCloud(async (cloud, clients) => {
    for (let i = 0; i < 6; i++) cloud.store.register({ sensorId: `s-${i}`, secret: `secret-${i}-xx` }, 1_700_000_000_000);
    const all = EventsStream.init(clients, "registration-events");
    const events = (await all.next(6)).map(event);
    all.close();
    const micros = events.map((e) => microsOf(e.offset[0].timestamp!));
    assert.equal(events.map((e) => e.persistence_id), [0, 1, 2, 3, 4, 5].map((i) => `Registration|s-${i}`));
    assert.ok(micros.every((m, i) => i === 0 || m > micros[i - 1]), `strictly increasing: ${micros.join(", ")}`);
    // Resume from the third event's offset, as an Akka consumer stores it.
    const resumed = EventsStream.init(clients, "registration-events", events[2].offset[0] as never);
    await resumed.next(3);
    await register(clients, "s-6", "secret-6-xx");
    await resumed.next(4);
    assert.equal(resumed.pairs(), ["Registration|s-3#1", "Registration|s-4#1", "Registration|s-5#1", "Registration|s-6#1"]);
    // Same timestamp, but that event not seen: it is sent again.
    const unseen = EventsStream.init(clients, "registration-events", { timestamp: events[2].offset[0].timestamp! as never, seen: [] });
    assert.equal((await unseen.next(5)).map((m) => event(m).persistence_id)[0], "Registration|s-2");
    resumed.close();
    unseen.close();
  });
});

test("a slice range gets only its slices", async () => {
  await withCloud(async (cloud, clients) => {
    const ids = Array.from({ length: 12 }, (_, i) => `sensor-${i}`);
    for (const id of ids) cloud.store.register({ sensorId: id, secret: "a long secret" }, Date.now());
    const low = ids.filter((id) => sliceOf(`Registration|${id}`) <= 511);
    assert.ok(low.length > 0 && low.length < ids.length, "the ids fall into both halves");
    const stream = EventsStream.init(clients, "registration-events", undefined, 0, 511);
    await stream.next(low.length);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(stream.pairs(), low.map((id) => `Registration|${id}#1`));
    stream.close();
  });
});

test("EventsBySlices refuses a first message that is no InitReq, an unknown stream and a bad slice range", async () => {
  await withCloud(async (cloud, clients) => {
    const noInit = EventsStream.open(clients, { filter: { criteria: [] } });
    const status = await noInit.ended();
    assert.is(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /first message must be an InitReq, got filter/);
    const unknown = await EventsStream.init(clients, "no-such-events").ended();
    assert.is(unknown.code, grpc.status.NOT_FOUND);
    assert.match(unknown.details, /unknown stream id "no-such-events"/);
    const badRange = await EventsStream.init(clients, "registration-events", undefined, 10, 5).ended();
    assert.is(badRange.code, grpc.status.INVALID_ARGUMENT);
    assert.match(badRange.details, /slice range 10..5/);
    assert.is(cloud.grpcStats().callsRefused, 3);
    await waitFor("no streams open", () => cloud.grpcStats().producerStreamsOpen === 0);
  });
});

test("ReplayReq sends a persistence id's events again from a seq_nr; FilterReq is accepted", async () => {
  await withCloud(async (_cloud, clients) => {
    for (const secret of ["secret one", "secret two", "secret three"]) await register(clients, "s-1", secret);
    const stream = EventsStream.init(clients, "registration-events");
    await stream.next(3);
    stream.call.write({ filter: { criteria: [{ exclude_tags: { tags: ["x"] } }] } });
    stream.call.write({ replay: { persistence_id_offset: [{ persistence_id: "Registration|s-1", seq_nr: 2 }] } });
    await stream.next(5);
    assert.equal(stream.pairs().slice(3), ["Registration|s-1#2", "Registration|s-1#3"]);
    stream.close();
  });
});

test("LoadEvent and EventTimestamp find one event, NOT_FOUND when absent", async () => {
  await withCloud(async (_cloud, clients) => {
    await register(clients, "s-1", "secret one");
    const loaded = await unary<StreamOut>(clients.producer, "LoadEvent", { stream_id: "registration-events", persistence_id: "Registration|s-1", seq_nr: 1 });
    assert.is(secretOf(loaded), "secret one");
    const { timestamp } = await unary<{ timestamp: { seconds: string; nanos: number } }>(clients.producer, "EventTimestamp", { stream_id: "registration-events", persistence_id: "Registration|s-1", seq_nr: 1 });
    assert.equal(event(loaded).offset[0].timestamp, timestamp);
    for (const [method, request, pattern] of [
      ["LoadEvent", { stream_id: "registration-events", persistence_id: "Registration|s-1", seq_nr: 2 }, /no event Registration\|s-1 seq_nr 2/],
      ["EventTimestamp", { stream_id: "registration-events", persistence_id: "Registration|s-2", seq_nr: 1 }, /no event Registration\|s-2/],
      ["LoadEvent", { stream_id: "other", persistence_id: "Registration|s-1", seq_nr: 1 }, /unknown stream id "other"/],
    ] as const) {
      const error = await unary(clients.producer, method, request).then(() => undefined, (e: grpc.ServiceError) => e);
      assert.is(error?.code, grpc.status.NOT_FOUND, `${method} ${JSON.stringify(request)}`);
      assert.match(error!.details, pattern);
    }
  });
});

test("Register refuses an empty id or secret with INVALID_ARGUMENT and stores nothing", async () => {
  await withCloud(async (cloud, clients) => {
    for (const [request, pattern] of [
      [{ sensor_entity_id: "", secret: "a long secret" }, /sensor_entity_id: must be 1 to 64 characters/],
      [{ sensor_entity_id: "s-1", secret: "" }, /secret: must be a string of 8 to 128 characters/],
    ] as const) {
      const error = await unary(clients.registration, "Register", request).then(() => undefined, (e: grpc.ServiceError) => e);
      assert.is(error?.code, grpc.status.INVALID_ARGUMENT);
      assert.match(error!.details, pattern);
    }
    assert.is(cloud.store.counts().sensors, 0);
    assert.is(cloud.store.journal.read("registration-events", 0, 0, 1023, 10).length, 0);
  });
});

test("a subscriber that does not read holds back the cloud (flow control), then gets everything in order", async () => {
  await withCloud(async (cloud, clients) => {
    const total = 20_000;
    const batch = Array.from({ length: 1000 }, (_, i) => i);
    for (let b = 0; b < total / 1000; b++) {
      cloud.store.append(batch.map((i) => ({ sensorId: `s-${i % 10}`, seq: b * 100 + Math.floor(i / 10) + 1, boot: 1, uptimeMs: i, readings: [{ quantity: "temperature", value: 20 }] })), Date.now());
    }
    const stream = EventsStream.init(clients, "temperature-events");
    stream.call.pause();
    // Sampled until it stands still (bounded).
    const sent = await whenStill(() => cloud.grpcStats().eventsSent);
    assert.ok(sent < total / 2, `the cloud stopped at ${sent} of ${total} events while the client read nothing`);
    stream.call.resume();
    // 20,000 events take a few seconds on an idle machine and far longer on a busy one: the bound is generous.
    await stream.next(total, 60_000);
    const observations = cloud.store.after(0, total);
    assert.equal(stream.pairs().slice(-3), observations.slice(-3).map((o) => `Sensor|${o.sensorId}#${o.seq}`));
    stream.close();
  });
});

test("a restarted cloud keeps the journal: a consumer resumes from its offset, missing and repeating nothing", async () => {
  const dir = tempDir("cloud-grpc-restart");
  const grpcPort = await freePort();
  let cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort, dataDir: dir.path, logger: createMemoryLogger() });
  let clients = cloudClients(cloud.grpcTarget);
  for (const id of ["a-1", "a-2", "a-3"]) await register(clients, id, "a long secret");
  const before = EventsStream.init(clients, "registration-events");
  const seen = (await before.next(3)).map(event);
  clients.close();
  await cloud.close();
  cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort, dataDir: dir.path, logger: createMemoryLogger() });
  clients = cloudClients(cloud.grpcTarget);
  try {
    await register(clients, "a-1", "another secret");
    const after = EventsStream.init(clients, "registration-events", seen[2].offset[0] as never);
    await after.next(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(after.pairs(), ["Registration|a-1#2"], "only what came after the offset, with the next seq_nr");
    after.close();
  } finally {
    clients.close();
    await cloud.close();
    dir.remove();
  }
});

test.run();
