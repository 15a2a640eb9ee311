/*
 * The Akka registration consumer facing bad input and failing producers:
 * every bad event is logged by pid/seq_nr/what and counted, never applied,
 * never a crash, and the stream goes on; refused or reset streams and
 * failing LoadEvents retry with backoff; TLS and mutual TLS, and the
 * certificates a server refuses, show in lastError.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { packAny, REGISTERED } from "../../../hosts/grpc/payload.js";
import { backtracking, FakeEventProducer, registered } from "../../support/fake-event-producer.js";
import { assertNoSecrets, at, startConsumer, untilVerified, warnings } from "../../support/akka-registrations.js";
import { makeTestCertificates } from "../../support/test-certificates.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

test("bad events are counted and logged by pid, seq_nr and fault, without their secret; the stream goes on and does not bring them again", async () => {
  const dir = tempDir("akka-reg-bad");
  const producer = await FakeEventProducer.start();
  const bad = [
    { ...registered("u", 1, "unused-secret-1", at(1)), payload: { type_url: "type.googleapis.com/other.Thing", value: new Uint8Array([1]) } },
    { ...registered("m", 1, "unused-secret-2", at(1)), payload: { type_url: "type.googleapis.com/iot.registration.Registered", value: Uint8Array.from([0x0a, 0x09, 0x01]) } },
    { ...registered("e", 1, "x", at(1)), payload: packAny(REGISTERED, { secret: { value: "" } }) },
    { ...registered("t", 1, "bad-time-secret", at(1)), offset: [{ timestamp: { seconds: 1_700_000_001, nanos: 1_500_000_000 }, seen: [] }] },
    { ...registered("z", 1, "zero-seq-secret", at(3)), seq_nr: 0 },
    { ...registered("h", 1, "huge-seq-secret", at(3)), seq_nr: "9007199254740993" },
    { ...registered("p", 1, "no-pid-secret", at(3)), persistence_id: "" },
  ];
  producer.append(...bad, registered("good", 1, "good-secret-1", at(2)));
  let under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { good: "good-secret-1" });
  let stats = under.consumer.stats();
  assert.equal([stats.events, stats.badEvents, stats.connected], [1, 7, true]);
  for (const id of ["u", "m", "e", "t"]) assert.not.ok(under.projection.isRegistered(id));
  const lines = warnings(under);
  for (const expected of [
    /skipped registration event "Registration\|u" seq_nr 1: unknown payload type "type.googleapis.com\/other.Thing"/,
    /skipped registration event "Registration\|m" seq_nr 1: malformed iot.registration.Registered payload/,
    /skipped registration event "Registration\|e" seq_nr 1: Registered has no secret/,
    /skipped registration event "Registration\|t" seq_nr 1: timestamp nanos must be 0..999999999, got 1500000000/,
    /ignored registration stream message: event of "Registration\|z": seq_nr of it must be an integer from 1 to 2\^53-1, got 0/,
    /ignored registration stream message: event of "Registration\|h": .*got 9007199254740993/,
    /ignored registration stream message: event without a persistence id \(seq_nr 1\)/,
  ]) {
    assert.ok(lines.some((line) => expected.test(line)), `a warning matching ${expected}`);
  }
  assertNoSecrets(under, ["unused-secret-1", "unused-secret-2", "bad-time-secret", "zero-seq-secret", "huge-seq-secret", "no-pid-secret", "good-secret-1"]);
  await within("close", under.close());

  // Restarted, from the stored offset: the unplaceable ones (after it) come again and are counted
  // again, having no position to store; the bad one without a timestamp (the fake always resends it) is a duplicate.
  under = startConsumer(dir.path, producer.target);
  await waitFor("the replay", () => under.consumer.stats().badEvents === 3 && under.consumer.stats().duplicates === 1);
  stats = under.consumer.stats();
  assert.equal([stats.events, stats.connected], [0, true]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("a producer that resets the stream: reconnect with backoff from the stored offset, reason in lastError", async () => {
  const dir = tempDir("akka-reg-reset");
  const producer = await FakeEventProducer.start();
  producer.append(registered("1", 1, "secret-one", at(1)));
  const under = startConsumer(dir.path, producer.target);
  await untilVerified(under, { "1": "secret-one" });
  producer.reset(grpc.status.INTERNAL, "journal hiccup");
  await waitFor("a reconnect", () => producer.inits.length === 2 && under.consumer.stats().connected);
  assert.match(String(under.consumer.stats().lastError), /^INTERNAL \(13\): journal hiccup$/);
  assert.equal(producer.inits[1].offset[0].seen, [{ persistence_id: "Registration|1", seq_nr: "1" }]);
  producer.append(registered("2", 1, "secret-two", at(2)));
  await untilVerified(under, { "2": "secret-two" });
  assert.equal([under.consumer.stats().reconnects, under.consumer.stats().events], [1, 2]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("a stream id the producer does not know (NOT_FOUND) and an InitReq it refuses (INVALID_ARGUMENT) keep retrying, the status in lastError", async () => {
  const dir = tempDir("akka-reg-refused");
  const producer = await FakeEventProducer.start();
  let under = startConsumer(dir.path, producer.target, { streamId: "no-such-stream" });
  await waitFor("retries", () => under.consumer.stats().reconnects >= 2);
  assert.match(String(under.consumer.stats().lastError), /^NOT_FOUND \(5\): stream id no-such-stream is not known$/);
  assert.is(under.consumer.stats().connected, false);
  assert.is(warnings(under).filter((w) => /registration stream failed: NOT_FOUND/.test(w)).length, 1, "one warning for a repeating reason");
  await within("close", under.close());

  producer.refuse = { code: grpc.status.INVALID_ARGUMENT, details: "slice range 0-1023 not accepted" };
  under = startConsumer(dir.path, producer.target);
  await waitFor("retries", () => under.consumer.stats().reconnects >= 2);
  assert.match(String(under.consumer.stats().lastError), /INVALID_ARGUMENT \(3\): slice range/);
  producer.refuse = null;
  producer.append(registered("1", 1, "secret-one", at(1)));
  await untilVerified(under, { "1": "secret-one" });
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("LoadEvent failures: NOT_FOUND or an answer for another event skips it (counted), UNAVAILABLE restarts the stream and the event comes again", async () => {
  const dir = tempDir("akka-reg-load");
  const producer = await FakeEventProducer.start();
  const under = startConsumer(dir.path, producer.target);
  await waitFor("connected", () => under.consumer.stats().connected);

  producer.send({ event: { ...backtracking(registered("gone", 1, "never-seen", at(1))) } });
  await waitFor("the NOT_FOUND skip", () => under.consumer.stats().badEvents === 1);
  assert.ok(warnings(under).some((w) => /"Registration\|gone" seq_nr 1: LoadEvent answered NOT_FOUND/.test(w)));

  const other = registered("other", 3, "other-secret", at(2));
  producer.loadAnswer = () => ({ event: { ...other } });
  producer.send({ event: { ...backtracking(registered("wrong", 1, "wrong-secret", at(2))) } });
  await waitFor("the wrong-answer skip", () => under.consumer.stats().badEvents === 2);
  assert.ok(warnings(under).some((w) => /"Registration\|wrong" seq_nr 1: LoadEvent answered with another event, "Registration\|other" seq_nr 3/.test(w)));
  assert.not.ok(under.projection.isRegistered("other"));

  const flaky = registered("flaky", 1, "flaky-secret", at(3));
  producer.journal.push(flaky);
  producer.loadAnswer = () => ({ code: grpc.status.UNAVAILABLE, details: "journal busy" });
  producer.send({ event: { ...backtracking(flaky) } });
  await waitFor("the restart", () => producer.inits.length === 2);
  producer.loadAnswer = null;
  await untilVerified(under, { flaky: "flaky-secret" });
  const stats = under.consumer.stats();
  assert.equal([stats.loadFailures, stats.badEvents, stats.reconnects], [3, 2, 1]);
  assert.match(String(stats.lastError), /LoadEvent of "Registration\|flaky" seq_nr 1 failed: UNAVAILABLE \(14\): journal busy/);
  assertNoSecrets(under, ["never-seen", "wrong-secret", "other-secret", "flaky-secret"]);
  await within("close", under.close());
  await producer.close();
  dir.remove();
});

test("mutual TLS: the client certificate is accepted; a rogue certificate, no certificate, or the wrong CA show in lastError", async () => {
  const certs = makeTestCertificates("akka-reg-tls");
  const dir = tempDir("akka-reg-tls");
  const producer = await FakeEventProducer.start({ tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile } });
  producer.append(registered("1", 1, "secret-one", at(1)));
  const good = startConsumer(join(dir.path, "good"), producer.target, { tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile } });
  await untilVerified(good, { "1": "secret-one" });
  await within("close", good.close());

  for (const [name, tls] of [
    ["rogue", { caFile: certs.caFile, certFile: certs.rogueCertFile, keyFile: certs.rogueKeyFile }],
    ["none", { caFile: certs.caFile }],
    ["wrong-ca", { caFile: join(certs.dir, "rogue-ca.pem"), certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }],
  ] as const) {
    const refused = startConsumer(join(dir.path, name), producer.target, { tls });
    await waitFor(`${name}: a failure`, () => refused.consumer.stats().lastError);
    assert.match(String(refused.consumer.stats().lastError), /UNAVAILABLE/, name);
    assert.not.ok(refused.projection.isRegistered("1"), name);
    await within("close", refused.close());
  }
  assert.is(producer.inits.length, 1, "only the good client got a stream");
  await producer.close();
  certs.remove();
  dir.remove();
});

test.run();
