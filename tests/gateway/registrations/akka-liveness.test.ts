/*
 * Whether the Akka registration stream is alive, when nothing flows on it
 * (registrations are rare, and Akka's EventsBySlices has no heartbeat): a
 * half-open connection found by HTTP/2 pings through a real TCP proxy, a
 * stream wedged behind a live connection recycled from the stored offset,
 * and a restart with nothing to replay reported as connected.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FakeEventProducer, registered } from "../../support/fake-event-producer.js";
import { at, startConsumer, untilVerified, warnings } from "../../support/akka-registrations.js";
import { TcpProxy } from "../../support/tcp-proxy.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

test("a half-open connection (no data, no status, no end, no RST) is found by HTTP/2 pings; the stream resumes from the stored offset on a new connection", async () => {
  const dir = tempDir("akka-reg-halfopen");
  const producer = await FakeEventProducer.start();
  const proxy = await TcpProxy.start(producer.port);
  producer.append(registered("1", 1, "secret-one", at(1)));
  // No idle recycle: only the pings can find the dead link.
  const under = startConsumer(dir.path, proxy.target, { idleRecycleMs: 0, keepaliveTimeMs: 200, keepaliveTimeoutMs: 300 });
  await untilVerified(under, { "1": "secret-one" });
  assert.is(under.consumer.stats().state, "connected");
  proxy.silence();
  await waitFor("the dead link to be noticed", () => under.consumer.stats().state !== "connected");
  assert.ok(warnings(under).some((line) => /^registration stream lost: UNAVAILABLE/.test(line)), warnings(under).join("\n"));
  // The next connection carries bytes again; the producer gets an InitReq from the stored offset.
  producer.append(registered("2", 1, "secret-two", at(2)));
  await untilVerified(under, { "2": "secret-two" });
  assert.ok(proxy.connections >= 2, "a new connection");
  assert.equal(producer.inits.at(-1)?.offset[0]?.seen, [{ persistence_id: "Registration|1", seq_nr: "1" }]);
  await within("close", under.close());
  await proxy.close();
  await producer.close();
  dir.remove();
});

test("a stream wedged behind a live connection is recycled after idleRecycleMs: requested again from the stored offset, counted, not an error", async () => {
  const dir = tempDir("akka-reg-recycle");
  const producer = await FakeEventProducer.start();
  producer.append(registered("1", 1, "secret-one", at(1)));
  const under = startConsumer(dir.path, producer.target, { idleRecycleMs: 300 });
  await untilVerified(under, { "1": "secret-one" });
  await waitFor("two recycles and the streams after them", () => under.consumer.stats().recycles >= 2 && producer.inits.length >= 3);
  const stats = under.consumer.stats();
  assert.is(stats.lastError, null, "a recycle is no failure");
  for (const init of producer.inits.slice(1)) assert.equal(init.offset[0]?.seen, [{ persistence_id: "Registration|1", seq_nr: "1" }], "from the stored offset");
  assert.equal(warnings(under), [], "recycles are logged at info");
  assert.ok(under.logger.lines.some((l) => /brought nothing for 300 ms; requesting it again/.test(String(l.msg))));
  // Live events still arrive on the recycled stream.
  producer.append(registered("2", 1, "secret-two", at(2)));
  await untilVerified(under, { "2": "secret-two" });
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("after a restart that replays nothing, from a producer that sends no header until its first event, the stream is connected and says so", async () => {
  const dir = tempDir("akka-reg-quiet");
  const producer = await FakeEventProducer.start({ headersOnInit: false });
  producer.append(registered("1", 1, "secret-one", at(1)));
  let under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { "1": "secret-one" });
  await within("close", under.close());

  under = startConsumer(dir.path, producer.target);
  await waitFor("connected with nothing replayed", () => under.consumer.stats().connected);
  const stats = under.consumer.stats();
  assert.equal([stats.state, stats.events, stats.downForMs], ["connected", 0, null]);
  assert.ok(typeof stats.streamAgeMs === "number" && typeof stats.idleMs === "number");
  assert.ok(under.logger.lines.some((l) => /^registration stream registration-events \(slices 0-1023\) connected to .* \(nothing to replay\)$/.test(String(l.msg))));
  await within("close", under.close());
  assert.is(under.consumer.stats().state, "closed");
  await producer.close();
  dir.remove();
});

test("a producer that is down: the stats say retrying and for how long the link has been down", async () => {
  const dir = tempDir("akka-reg-down");
  const producer = await FakeEventProducer.start();
  const target = producer.target;
  await producer.close();
  const under = startConsumer(dir.path, target);
  await waitFor("a failed attempt", () => under.consumer.stats().lastError !== null);
  await waitFor("some time down", () => (under.consumer.stats().downForMs ?? 0) > 0);
  const stats = under.consumer.stats();
  assert.ok(stats.state === "retrying" || stats.state === "connecting", stats.state);
  assert.is(stats.connected, false);
  await within("close", under.close());
  dir.remove();
});

test.run();
