import { test } from "uvu";
import * as assert from "uvu/assert";
import { SourceLimit } from "../../../hosts/gateway/ingest/udp/source-limit.js";
import { LogThrottle } from "../../../hosts/log/log-throttle.js";

test("source limit: a full bucket allows its burst, then refills at its rate, never above its capacity", () => {
  const limit = new SourceLimit({ capacity: 3, refillPerSecond: 2 });
  assert.equal([0, 0, 0, 0].map(() => limit.take("a", 0)), [true, true, true, false]);
  assert.is(limit.take("a", 499), false, "less than one token back after 499 ms at 2/s");
  assert.is(limit.take("a", 500), true);
  assert.equal([1, 2, 3, 4].map(() => limit.take("a", 100_000)), [true, true, true, false]);
});

test("source limit: refuses a capacity below 1 or a rate that is not positive", () => {
  assert.throws(() => new SourceLimit({ capacity: 0, refillPerSecond: 1 }), /burst/);
  assert.throws(() => new SourceLimit({ capacity: 1, refillPerSecond: 0 }), /rate/);
  assert.throws(() => new SourceLimit({ capacity: Number.NaN, refillPerSecond: 1 }), /burst/);
});

test("source limit: one source over its limit does not limit another", () => {
  const limit = new SourceLimit({ capacity: 2, refillPerSecond: 0.001 });
  assert.equal([1, 2, 3].map(() => limit.take("10.0.0.1", 0)), [true, true, false]);
  assert.ok(limit.take("10.0.0.2", 0));
});

test("source limit: remembers at most maxSources, forgetting the least recently heard", () => {
  const limit = new SourceLimit({ capacity: 1, refillPerSecond: 0.001, maxSources: 2 });
  assert.ok(limit.take("a", 0));
  assert.ok(limit.take("b", 0));
  assert.not.ok(limit.take("a", 0), "a is heard again, so b is now the least recent");
  assert.ok(limit.take("c", 0), "c evicts b");
  assert.is(limit.trackedSources, 2);
  assert.not.ok(limit.take("a", 0), "a was kept, still empty");
  assert.ok(limit.take("b", 0), "b was forgotten, so it starts full");
});

test("log throttle: remembers at most maxKeys, forgetting the least recently logged", () => {
  const throttle = new LogThrottle(1000, 2);
  assert.ok(throttle.note("x", 0).log);
  assert.ok(throttle.note("y", 0).log);
  assert.not.ok(throttle.note("x", 1).log, "x is still within its interval");
  assert.ok(throttle.note("z", 2).log, "z evicts x, the least recently logged");
  assert.is(throttle.size, 2);
  assert.ok(throttle.note("x", 3).log, "x was forgotten, so it logs again");
});

test.run();
