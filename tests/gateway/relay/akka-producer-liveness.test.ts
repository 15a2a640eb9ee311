/*
 * The Akka gRPC producer connector when the cloud is slow, silent, reset or
 * gone for a while, through a real gateway, a fake EventConsumerService and,
 * for the network faults, a real TCP proxy between them: a slow cloud still
 * gets the backlog (the ack timeout grows instead of livelocking), a dead
 * connection is found by HTTP/2 pings rather than the ack timeout, and a
 * cloud that comes back is sent to at once, not after the relay's backoff.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FakeEventConsumer, keyOf } from "../../support/fake-event-consumer.js";
import { logged, prefilledDataDir, startProducerGateway, type ProducerGateway } from "../../support/akka-producer-gateway.js";
import { TcpProxy } from "../../support/tcp-proxy.js";
import { freePort, waitFor } from "../../support/test-helpers.js";

const allKeys = (count: number) => Array.from({ length: count }, (_, i) => keyOf("Sensor|s-1", i + 1));

async function delivered(t: ProducerGateway, fake: FakeEventConsumer, count: number, timeoutMs?: number): Promise<void> {
  await waitFor("the whole backlog delivered and marked", () => t.gateway.store.counts().unrelayed === 0, timeoutMs);
  for (const key of allKeys(count)) assert.ok(fake.acked.has(key), `${key} acked at the consumer`);
}

/** Events the consumer received more than once. */
const duplicates = (fake: FakeEventConsumer) => fake.events.length - new Set(fake.events.map((e) => keyOf(e.persistenceId, e.seqNr))).size;

test("a cloud that acks later than the ack timeout: the timeout doubles instead of livelocking, the backlog drains, duplicates stay within one window", async () => {
  const fake = await FakeEventConsumer.start();
  // Scaled from 15 s acks against a 10 s timeout.
  fake.ackDelayMs = 300;
  const t = await startProducerGateway({ target: fake.target, ackTimeoutMs: 200, maxInFlight: 20 }, prefilledDataDir("s-1", 100));
  try {
    await delivered(t, fake, 100, 20_000);
    const stats = t.connector.stats();
    assert.ok(stats.ackTimeouts >= 1, "it did time out at first");
    assert.ok(stats.ackTimeoutMs >= 400, `the timeout grew (now ${stats.ackTimeoutMs} ms)`);
    assert.ok(duplicates(fake) <= 20 * stats.ackTimeouts, `${duplicates(fake)} duplicates for ${stats.ackTimeouts} timeouts of a 20-event window`);
    assert.ok(logged(t.logger).some((line) => /within 200 ms \(the next stream waits up to 400 ms\)/.test(line)));
  } finally {
    await t.done();
    await fake.close();
  }
});

test("a real connection reset mid-batch ends the stream at once: the unacked are sent again on a new connection, long before the ack timeout", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const proxy = await TcpProxy.start(fake.port);
  // An ack timeout no test waits for: only the reset itself can end the stream in time.
  const t = await startProducerGateway({ target: proxy.target, ackTimeoutMs: 60_000 }, prefilledDataDir("s-1", 5));
  try {
    await waitFor("five events in flight", () => fake.events.length === 5);
    proxy.reset();
    fake.autoAck = true;
    await delivered(t, fake, 5);
    assert.is(t.connector.stats().ackTimeouts, 0);
    assert.ok(proxy.connections >= 2, "on a new connection");
  } finally {
    await t.done();
    await proxy.close();
    await fake.close();
  }
});

test("a connection gone silent mid-batch (half-open: no ack, no RST, no end) is found by HTTP/2 pings, not the ack timeout", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const proxy = await TcpProxy.start(fake.port);
  const t = await startProducerGateway({ target: proxy.target, ackTimeoutMs: 60_000, keepaliveTimeMs: 200, keepaliveTimeoutMs: 300 }, prefilledDataDir("s-1", 5));
  try {
    await waitFor("five events in flight", () => fake.events.length === 5);
    proxy.silence();
    fake.autoAck = true;
    await delivered(t, fake, 5);
    assert.is(t.connector.stats().ackTimeouts, 0);
    assert.ok(t.connector.stats().unavailable >= 1, "the dead connection counted as unavailable");
  } finally {
    await t.done();
    await proxy.close();
    await fake.close();
  }
});

test("a cloud back after an outage gets the backlog at once: the link coming up ends the relay's backoff", async () => {
  const port = await freePort();
  // Retries a minute apart: within this test only the link-up signal can send again.
  const t = await startProducerGateway({ target: `127.0.0.1:${port}` }, prefilledDataDir("s-1", 3), { relayRetryInitialMs: 60_000, relayRetryMaxMs: 60_000 });
  let fake: FakeEventConsumer | undefined;
  try {
    await waitFor("the relay backing off", () => t.gateway.stats().relay.state === "backing-off");
    // Long enough for the channel's own reconnect backoff to have grown, were it grpc-js's default.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    fake = await FakeEventConsumer.start({ port });
    await delivered(t, fake, 3);
    assert.ok(logged(t.logger, "info").some((line) => /is reachable again: sending now/.test(line)));
    assert.is(t.gateway.stats().relay.consecutiveFailures, 0);
  } finally {
    await t.done();
    await fake?.close();
  }
});

test.run();
