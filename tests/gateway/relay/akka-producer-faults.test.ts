/*
 * The Akka gRPC producer connector under faults, through a real gateway
 * whose store holds a known backlog (so the relay's first batch is exactly
 * it) and a fake EventConsumerService: each fault is a clear error in the
 * relay's lastError or the connector's, a counter, and nothing marked
 * relayed that the consumer did not ack; afterwards everything arrives.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FakeEventConsumer, keyOf } from "../../support/fake-event-consumer.js";
import { logged, prefilledDataDir, startProducerGateway, type ProducerGateway } from "../../support/akka-producer-gateway.js";
import { freePort, waitFor } from "../../support/test-helpers.js";

const allKeys = (count: number) => Array.from({ length: count }, (_, i) => keyOf("Sensor|s-1", i + 1));

async function delivered(t: ProducerGateway, fake: FakeEventConsumer, count: number): Promise<void> {
  await waitFor("the whole backlog delivered and marked", () => t.gateway.store.counts().unrelayed === 0);
  for (const key of allKeys(count)) assert.ok(fake.acked.has(key), `${key} acked at the consumer`);
}

test("a stream reset by the server mid-batch: the acked part is marked, the rest is sent again on a new stream", async () => {
  const fake = await FakeEventConsumer.start();
  fake.resetAfterEvents = 3;
  const t = await startProducerGateway({ target: fake.target, maxInFlight: 1 }, prefilledDataDir("s-1", 5));
  try {
    await delivered(t, fake, 5);
    const stats = t.connector.stats();
    assert.is(stats.resets, 1);
    assert.is(stats.streamsStarted, 2);
    assert.match(stats.lastError!, /reset the ConsumeEvent stream \(INTERNAL: event writer failed \(test\)\)/);
    assert.match(t.gateway.stats().relay.lastError!, /acknowledged 2 of 5 observations/);
    assert.equal(fake.events.filter((e) => e.seqNr === 3).map((e) => e.stream), [1, 2], "the unacked event went again on the new stream");
    assert.equal(fake.events.filter((e) => e.stream === 2).map((e) => e.seqNr), [3, 4, 5]);
    assert.ok(logged(t.logger).some((line) => line.includes("reset the ConsumeEvent stream") && line.includes("2 of 5 observations acknowledged")));
  } finally {
    await t.done();
    await fake.close();
  }
});

test("a server that never acks: the ack timeout ends the stream, nothing is marked, the next send reconnects", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const t = await startProducerGateway({ target: fake.target, ackTimeoutMs: 200 }, prefilledDataDir("s-1", 3));
  try {
    await waitFor("an ack timeout", () => t.connector.stats().ackTimeouts >= 1);
    await waitFor("the relay's error", () => t.gateway.stats().relay.lastError !== null);
    assert.match(t.gateway.stats().relay.lastError!, /acknowledged none of 3 events in flight within 200 ms/);
    assert.is(t.gateway.store.counts().unrelayed, 3);
    fake.autoAck = true;
    await delivered(t, fake, 3);
    assert.ok(t.connector.stats().streamsStarted >= 2);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("no event before ConsumerEventStart; none at all within startTimeoutMs is an error", async () => {
  const fake = await FakeEventConsumer.start();
  fake.startDelayMs = null;
  const t = await startProducerGateway({ target: fake.target, startTimeoutMs: 150 }, prefilledDataDir("s-1", 2));
  try {
    await waitFor("a start timeout", () => t.connector.stats().startTimeouts >= 1);
    await waitFor("the relay's error", () => /sent no ConsumerEventStart within 150 ms/.test(t.gateway.stats().relay.lastError ?? ""));
    assert.is(fake.events.length, 0);
    assert.is(t.gateway.store.counts().unrelayed, 2);
    // A late start is waited for.
    fake.startDelayMs = 100;
    await delivered(t, fake, 2);
    assert.is(fake.eventsBeforeStart, 0);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("a stream id the consumer does not accept: PERMISSION_DENIED named with the stream id, counted, nothing marked", async () => {
  const fake = await FakeEventConsumer.start();
  const t = await startProducerGateway({ target: fake.target, streamId: "other-events" }, prefilledDataDir("s-1", 2));
  try {
    await waitFor("two refusals", () => t.connector.stats().refused >= 2);
    assert.match(t.gateway.stats().relay.lastError!, /refused ConsumeEvent for stream id "other-events" \(PERMISSION_DENIED: Events for stream id \[other-events\] not accepted/);
    assert.is(fake.inits[0].stream_id, "other-events");
    assert.is(fake.events.length, 0);
    assert.is(t.gateway.store.counts().unrelayed, 2);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("an unreachable cloud is UNAVAILABLE; once it listens the backlog goes", async () => {
  const port = await freePort();
  const t = await startProducerGateway({ target: `127.0.0.1:${port}` }, prefilledDataDir("s-1", 3));
  let fake: FakeEventConsumer | undefined;
  try {
    await waitFor("unavailable", () => t.connector.stats().unavailable >= 1);
    assert.match(t.gateway.stats().relay.lastError!, new RegExp(`127\\.0\\.0\\.1:${port} is unavailable \\(UNAVAILABLE: `));
    assert.is(t.gateway.store.counts().unrelayed, 3);
    fake = await FakeEventConsumer.start({ port });
    await delivered(t, fake, 3);
  } finally {
    await t.done();
    await fake?.close();
  }
});

test("an ack for no event in flight and a message that is neither start nor ack are counted and ignored; the stream goes on", async () => {
  const fake = await FakeEventConsumer.start();
  const t = await startProducerGateway({ target: fake.target }, prefilledDataDir("s-1", 2));
  try {
    await delivered(t, fake, 2);
    fake.sendToAll({ ack: { persistence_id: "Sensor|ghost", seq_nr: 9 } });
    fake.sendToAll({ ack: { persistence_id: "Sensor|s-1", seq_nr: 1 } });
    fake.sendToAll({});
    await waitFor("both counted", () => t.connector.stats().unexpectedAcks === 2 && t.connector.stats().malformedResponses === 1);
    assert.ok(logged(t.logger).some((line) => line.includes("ignoring an ack from") && line.includes("Sensor|ghost seq_nr 9: no such event in flight")));
    assert.is(logged(t.logger).filter((line) => line.includes("ignoring an ack from")).length, 1, "the second within the interval is counted, not logged");
    assert.ok(logged(t.logger).some((line) => line.includes("ignoring a malformed ConsumeEventOut") && line.includes("neither start nor ack")));
    assert.ok(t.connector.stats().connected, "the stream stays up");
    assert.is(t.connector.stats().streamsStarted, 1);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("bytes that are no ConsumeEventOut end the stream as malformed; the batch is sent again on a new one", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const t = await startProducerGateway({ target: fake.target }, prefilledDataDir("s-1", 2));
  try {
    await waitFor("the batch in flight", () => fake.events.length === 2);
    // Field 2 (ack), length 5, but only one byte follows: protobuf cannot decode it.
    fake.sendToAll(Buffer.from([0x12, 0x05, 0x0a]));
    await waitFor("the relay's error", () => /sent a malformed ConsumeEventOut \(INTERNAL: Response message parsing error/.test(t.gateway.stats().relay.lastError ?? ""));
    assert.is(t.connector.stats().malformedResponses, 1);
    assert.is(t.gateway.store.counts().unrelayed, 2);
    fake.autoAck = true;
    await delivered(t, fake, 2);
    assert.ok(t.connector.stats().streamsStarted >= 2);
  } finally {
    await t.done();
    await fake.close();
  }
});

test("the consumer restarted mid-stream: acked events stay marked, every unacked one is delivered to the new server", async () => {
  const first = await FakeEventConsumer.start();
  first.autoAck = false;
  const t = await startProducerGateway({ target: first.target }, prefilledDataDir("s-1", 6));
  let second: FakeEventConsumer | undefined;
  try {
    await waitFor("six events in flight", () => first.events.length === 6);
    first.releaseAcks(2);
    await waitFor("two acks at the gateway", () => t.connector.stats().acked === 2);
    await first.close();
    second = await FakeEventConsumer.start({ port: first.port });
    await waitFor("the backlog drained", () => t.gateway.store.counts().unrelayed === 0);
    assert.equal([...second.acked].sort(), allKeys(6).slice(2), "the second server got exactly the four the first never acked");
    assert.is(t.gateway.stats().relay.relayed, 6);
  } finally {
    await t.done();
    await second?.close();
  }
});

test.run();
