/*
 * The gateway's Akka registration consumer against a fake EventProducerService
 * on real loopback gRPC: replayed and live events reach the projection, a
 * restart of either side resumes from the stored offset, duplicates are
 * skipped, backtracking events are loaded, any entity id works.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MAX_BUFFERED_EVENTS } from "../../../hosts/gateway/registrations/akka/consumer.js";
import { backtracking, FakeEventProducer, registered } from "../../support/fake-event-producer.js";
import { assertNoSecrets, at, startConsumer, untilVerified, warnings } from "../../support/akka-registrations.js";
import { microsOf, timestampFromMicros } from "../../../hosts/grpc/timestamp.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

test("replayed then live registrations reach the projection; the first InitReq asks for every slice from the start", async () => {
  const dir = tempDir("akka-reg");
  const producer = await FakeEventProducer.start();
  producer.append(registered("1", 1, "secret-one", at(1)), registered("2", 1, "secret-two", at(2)));
  const under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { "1": "secret-one", "2": "secret-two" });
  await waitFor("connected", () => under.consumer.stats().connected);
  producer.append(registered("3", 1, "secret-three", at(3)), registered("1", 2, "secret-one-b", at(4)));
  await untilVerified(under, { "3": "secret-three", "1": "secret-one-b" });
  assert.is(under.projection.verify("1", "secret-one"), "bad-secret", "a re-registration replaces the secret");
  assert.equal(producer.inits, [{ stream_id: "registration-events", slice_min: 0, slice_max: 1023, offset: [], filter: [], replica_info: null }]);
  const stats = under.consumer.stats();
  assert.equal([stats.events, stats.badEvents, stats.duplicates, stats.reconnects, stats.lastError], [4, 0, 0, 0, null]);
  assert.is(stats.offsetTimestamp, new Date(at(4) / 1000).toISOString());
  assertNoSecrets(under, ["secret-one", "secret-two", "secret-three"]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("after a gateway restart the InitReq carries the stored offset (latest timestamp + the pairs seen at it) and nothing is applied twice", async () => {
  const dir = tempDir("akka-reg");
  const producer = await FakeEventProducer.start();
  producer.append(registered("a", 1, "secret-a-1", at(1)), registered("b", 1, "secret-b-1", at(2)), registered("c", 1, "secret-c-1", at(2)));
  let under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { a: "secret-a-1", b: "secret-b-1", c: "secret-c-1" });
  await within("close", under.close());

  producer.append(registered("a", 2, "secret-a-2", at(3)));
  under = startConsumer(dir.path, producer.target);
  assert.is(under.projection.verify("b", "secret-b-1"), "ok", "stored registrations are there before the stream reconnects");
  await untilVerified(under, { a: "secret-a-2" });
  const offset = producer.inits[1].offset;
  assert.equal(offset, [{
    timestamp: { seconds: String(at(2) / 1e6), nanos: 0 },
    seen: [{ persistence_id: "Registration|b", seq_nr: "1" }, { persistence_id: "Registration|c", seq_nr: "1" }],
  }]);
  // A producer that replays more than asked: the consumer skips what it has.
  producer.send({ event: { ...registered("b", 1, "an-old-secret", at(2)) } });
  producer.send({ event: { ...registered("a", 1, "another-old-secret", at(1)) } });
  await waitFor("two duplicates", () => under.consumer.stats().duplicates === 2);
  assert.is(under.projection.verify("a", "secret-a-2"), "ok");
  assert.is(under.projection.verify("b", "secret-b-1"), "ok");
  assert.is(under.consumer.stats().events, 1, "only the new event was applied");
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("Event.offset is upstream's repeated Offset: each one (here one per slice) is applied and sent back in InitReq after a restart", async () => {
  const dir = tempDir("akka-reg-slices");
  const producer = await FakeEventProducer.start();
  const bySlice = (slice: number, micros: number) => ({ timestamp: timestampFromMicros(micros), seen: [], slice });
  // A producer that offsets by slice: each event carries its slice's offset and the other one's, which lags.
  producer.append(
    { ...registered("x", 1, "secret-x-1", at(5)), offset: [bySlice(7, at(5)), bySlice(9, at(3))] },
    { ...registered("y", 1, "secret-y-1", at(4)), offset: [bySlice(9, at(4)), bySlice(7, at(5))] },
  );
  let under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { x: "secret-x-1", y: "secret-y-1" });
  assert.is(under.consumer.stats().offsetTimestamp, new Date(at(5) / 1000).toISOString());
  await within("close", under.close());

  under = startConsumer(dir.path, producer.target);
  await waitFor("a second InitReq", () => producer.inits.length === 2);
  const sent = producer.inits[1].offset.map((o) => ({ slice: o.slice, micros: microsOf(o.timestamp!), seen: o.seen.map((s) => `${s.persistence_id}#${s.seq_nr}`) }));
  assert.equal(sent, [
    // Slice 7 joined y at its own timestamp; slice 9 keeps its earlier position rather than slice 7's later one.
    { slice: 7, micros: at(5), seen: ["Registration|x#1", "Registration|y#1"] },
    { slice: 9, micros: at(4), seen: ["Registration|y#1"] },
  ]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("a backtracking event at the expected seq_nr is fetched with LoadEvent and applied; one already handled is not fetched", async () => {
  const dir = tempDir("akka-reg");
  const producer = await FakeEventProducer.start();
  const first = registered("7", 1, "secret-seven", at(1));
  const second = registered("7", 2, "secret-seven-b", at(2));
  const under = startConsumer(dir.path, producer.target);
  await waitFor("connected", () => under.consumer.stats().connected);
  producer.append(first);
  await untilVerified(under, { "7": "secret-seven" });
  producer.journal.push(second); // in the producer's journal, but the live query missed it
  producer.send({ event: { ...backtracking(first) } });
  producer.send({ event: { ...backtracking(second) } });
  await untilVerified(under, { "7": "secret-seven-b" });
  assert.equal(producer.loads, [{ stream_id: "registration-events", persistence_id: "Registration|7", seq_nr: "2", replica_info: null }]);
  const stats = under.consumer.stats();
  assert.equal([stats.loaded, stats.duplicates, stats.events], [1, 1, 2]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("entity ids are any string (spaces, '|', unicode, leading zeros), never numbers; gaps and filtered events are counted", async () => {
  const dir = tempDir("akka-reg");
  const producer = await FakeEventProducer.start();
  const ids = ["sensor one", "a|b", "ünï-温度", "0042"];
  producer.append(...ids.map((id, i) => registered(id, 1, `secret-${i}-xyz`, at(i))));
  const under = startConsumer(dir.path, producer.target);
  await untilVerified(under, Object.fromEntries(ids.map((id, i) => [id, `secret-${i}-xyz`])));
  assert.not.ok(under.projection.isRegistered("42"));
  assert.equal(under.projection.list().map((s) => s.sensorId).sort(), [...ids].sort());

  producer.append(registered("0042", 4, "secret-after-gap", at(10)));
  await untilVerified(under, { "0042": "secret-after-gap" });
  assert.is(under.consumer.stats().gaps, 1);
  assert.ok(warnings(under).some((w) => /"Registration\|0042": expected seq_nr 2, got 4; accepted/.test(w)));
  producer.send({ filtered_event: { persistence_id: "Registration|0042", seq_nr: 5, slice: 0, offset: [{ timestamp: { seconds: at(11) / 1e6, nanos: 0 }, seen: [] }], source: "" } });
  await waitFor("the filtered event", () => under.consumer.stats().filtered === 1);
  producer.send({ event: { ...registered("0042", 5, "not-applied-secret", at(11)) } });
  await waitFor("a duplicate of the filtered seq_nr", () => under.consumer.stats().duplicates === 1);
  assert.is(under.projection.verify("0042", "secret-after-gap"), "ok");
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("a replay larger than the consumer's buffer (the stream is paused and resumed) arrives whole and in order", async () => {
  const dir = tempDir("akka-reg");
  const producer = await FakeEventProducer.start();
  const count = MAX_BUFFERED_EVENTS * 3;
  producer.append(...Array.from({ length: count }, (_, i) => registered("busy", i + 1, `secret-${i + 1}-of-busy`, at(i))));
  const under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { busy: `secret-${count}-of-busy` });
  const stats = under.consumer.stats();
  assert.equal([stats.events, stats.gaps, stats.duplicates], [count, 0, 0]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("a producer restart mid-stream: the consumer reconnects with backoff from the stored offset and continues", async () => {
  const dir = tempDir("akka-reg");
  let producer = await FakeEventProducer.start();
  const port = producer.port;
  const journal = [registered("1", 1, "secret-one", at(1))];
  producer.append(...journal);
  const under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { "1": "secret-one" });
  await producer.close();
  await waitFor("the consumer to notice", () => !under.consumer.stats().connected);
  await waitFor("a few failed reconnects", () => under.consumer.stats().reconnects >= 2);
  assert.match(String(under.consumer.stats().lastError), /UNAVAILABLE/);
  assert.ok(warnings(under).some((w) => /registration stream lost: .*retrying in \d+ ms/.test(w)));

  producer = await FakeEventProducer.start({ port });
  producer.append(...journal, registered("2", 1, "secret-two", at(2)));
  await untilVerified(under, { "2": "secret-two" });
  const init = producer.inits[0];
  assert.equal(init.offset, [{ timestamp: { seconds: String(at(1) / 1e6), nanos: 0 }, seen: [{ persistence_id: "Registration|1", seq_nr: "1" }] }]);
  const stats = under.consumer.stats();
  assert.equal([stats.connected, stats.events, stats.duplicates], [true, 2, 0]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test.run();
