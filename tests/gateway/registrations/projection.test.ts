/*
 * The registration projection on a real SQLite file, and the pure decisions
 * of its feed: SSE framing, what an event means, the reconnect backoff.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RegistrationProjection } from "../../../hosts/gateway/registrations/projection.js";
import {
  decideRegistrationEvent, registrationRetryDelay, REGISTRATION_RETRY_INITIAL_MS, REGISTRATION_RETRY_MAX_MS, type Registration,
} from "../../../hosts/gateway/registrations/event.js";
import { MAX_SSE_LINE_CHARS, SseLineTooLong, SseParser } from "../../../hosts/gateway/registrations/sse-parser.js";
import { tempDir } from "../../support/test-helpers.js";

const reg = (offset: number, sensorId: string, secret: string): Registration => ({ offset, sensorId, secret, registeredAt: 1_700_000_000_000 + offset });

test("registrations and the offset survive a restart; replayed events are not applied again; a re-registration replaces the secret", () => {
  const dir = tempDir("projection");
  let projection = RegistrationProjection.open(dir.path, () => 42);
  assert.is(projection.offset(), 0);
  assert.is(projection.apply(reg(1, "s-1", "first-secret-1")), "registered");
  assert.is(projection.apply(reg(2, "s-2", "second-secret")), "registered");
  projection.close();

  projection = RegistrationProjection.open(dir.path);
  assert.is(projection.offset(), 2, "the stream resumes after the stored offset");
  assert.is(projection.verify("s-1", "first-secret-1"), "ok");
  assert.is(projection.verify("s-2", "second-secret"), "ok");
  assert.is(projection.verify("s-2", "first-secret-1"), "bad-secret");
  assert.is(projection.verify("s-2", undefined), "bad-secret");
  assert.is(projection.verify("s-3", "first-secret-1"), "unregistered");
  assert.equal(projection.list(), [{ sensorId: "s-1", registeredAt: 42 }, { sensorId: "s-2", registeredAt: 42 }]);
  // A replay from before the restart (a cloud that ignored Last-Event-ID) changes nothing.
  assert.is(projection.apply(reg(1, "s-1", "an-old-secret")), "stale");
  assert.is(projection.verify("s-1", "first-secret-1"), "ok");

  assert.is(projection.apply(reg(3, "s-1", "replacement-1")), "replaced");
  assert.is(projection.verify("s-1", "first-secret-1"), "bad-secret", "the old secret no longer works");
  assert.is(projection.verify("s-1", "replacement-1"), "ok");
  projection.close();
  projection = RegistrationProjection.open(dir.path);
  assert.is(projection.verify("s-1", "replacement-1"), "ok", "the replacement is durable");
  assert.equal([projection.offset(), projection.size], [3, 2]);
  projection.close();
  dir.remove();
});

test("only digests are stored: no secret appears in the database files", () => {
  const dir = tempDir("projection");
  const projection = RegistrationProjection.open(dir.path);
  projection.apply(reg(1, "s-1", "plain-text-secret-xyz"));
  projection.close();
  for (const file of readdirSync(dir.path)) {
    assert.not.ok(readFileSync(join(dir.path, file)).includes("plain-text-secret-xyz"), `${file} holds no secret`);
  }
  dir.remove();
});

test("skipping a bad event moves the offset past it, durably, and never backwards", () => {
  const dir = tempDir("projection");
  let projection = RegistrationProjection.open(dir.path);
  projection.skip(5);
  projection.skip(3);
  assert.is(projection.offset(), 5);
  projection.close();
  projection = RegistrationProjection.open(dir.path);
  assert.is(projection.offset(), 5);
  assert.is(projection.apply(reg(4, "s-1", "some-secret")), "stale");
  assert.not.ok(projection.isRegistered("s-1"));
  projection.close();
  dir.remove();
});

const event = (id: string | undefined, data: unknown, type = "message") => ({ id, type, data: typeof data === "string" ? data : JSON.stringify(data) });

test("a good event is applied; bad ones are skipped at their offset with a reason that never holds the secret", () => {
  const good = decideRegistrationEvent(event("7", { sensorId: "s-1", secret: "good-secret", registeredAt: 5 }), 6);
  assert.equal(good, { action: "apply", registration: { offset: 7, sensorId: "s-1", secret: "good-secret", registeredAt: 5 } });

  const bad: Array<[unknown, RegExp]> = [
    ["{not json", /data is not JSON/],
    [[1, 2], /must be a JSON object/],
    [{ secret: "good-secret", registeredAt: 5 }, /sensorId must be/],
    [{ sensorId: "s/1", secret: "good-secret", registeredAt: 5 }, /sensorId must be/],
    [{ sensorId: "s-1", registeredAt: 5 }, /secret of s-1 must be .* got missing/],
    [{ sensorId: "s-1", secret: "short12", registeredAt: 5 }, /secret of s-1 must be a string of 8 to 128 characters, got 7 characters/],
    [{ sensorId: "s-1", secret: "x".repeat(129), registeredAt: 5 }, /got 129 characters/],
    [{ sensorId: "s-1", secret: 12345678, registeredAt: 5 }, /got number/],
    [{ sensorId: "s-1", secret: "good-secret" }, /registeredAt of s-1/],
  ];
  for (const [data, reason] of bad) {
    const decision = decideRegistrationEvent(event("8", data), 7);
    assert.is(decision.action, "skip", JSON.stringify(data));
    if (decision.action !== "skip") continue;
    assert.is(decision.offset, 8);
    assert.match(decision.reason, reason);
    assert.not.match(decision.reason, /short12|good-secret|xxxxxxxx/);
  }
  assert.is(decideRegistrationEvent(event(undefined, { sensorId: "s-1", secret: "good-secret", registeredAt: 5 }), 0).action, "ignore", "no id: no offset to move to");
  assert.is(decideRegistrationEvent(event("-3", "{}"), 0).action, "ignore");
  assert.is(decideRegistrationEvent(event("9", "{}", "ping"), 0).action, "ignore");
  assert.equal(decideRegistrationEvent(event("7", "{}"), 7), { action: "stale", offset: 7 });
});

test("SSE framing: events split across chunks, CRLF and CR line ends, comments and multi-line data", () => {
  const parser = new SseParser();
  const text = ": subscribed\r\n\r\nid: 1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: keep-alive\n\nid: 2\revent: other\rdata: x\r\r:";
  const events = [];
  // One character at a time: the worst the socket can do. (A final "\r" could be half of
  // "\r\n", so the event it ends is only complete once the next character arrives.)
  for (const ch of text) events.push(...parser.push(ch));
  assert.equal(events, [
    { id: "1", type: "message", data: '{"a":\n1}' },
    { id: "2", type: "other", data: "x" },
  ]);
  assert.equal(parser.push("\ndata: no id\n\n"), [{ id: undefined, type: "message", data: "no id" }]);
});

test("SSE framing: a line without end longer than the limit is refused, not buffered", () => {
  const parser = new SseParser();
  assert.throws(() => parser.push("data: " + "x".repeat(MAX_SSE_LINE_CHARS)), (e: unknown) => e instanceof SseLineTooLong);
});

test("reconnect backoff doubles from 500 ms and stops at 10 s", () => {
  const delays = [1, 2, 3, 4, 5, 6, 100].map((n) => registrationRetryDelay(n, REGISTRATION_RETRY_INITIAL_MS, REGISTRATION_RETRY_MAX_MS));
  assert.equal(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
});

test.run();
