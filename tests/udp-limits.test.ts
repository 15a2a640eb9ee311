import { test } from "uvu";
import * as assert from "uvu/assert";
import { SourceLimit, TokenBucket } from "../hosts/gateway/udp/source-limit.js";
import { LogThrottle } from "../hosts/gateway/udp/log-throttle.js";

test("token bucket: a full bucket allows its burst, then refills at its rate", () => {
  const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 2 }, 0);
  assert.equal([0, 0, 0, 0].map(() => bucket.take(0)), [true, true, true, false]);
  assert.is(bucket.take(499), false, "less than one token back after 499 ms at 2/s");
  assert.is(bucket.take(500), true);
  assert.equal([1, 2, 3, 4].map(() => bucket.take(100_000)), [true, true, true, false], "never holds more than its capacity");
});

test("token bucket: a clock that goes backwards refills nothing", () => {
  const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1 }, 10_000);
  assert.ok(bucket.take(10_000));
  assert.not.ok(bucket.take(5_000));
  assert.not.ok(bucket.take(10_500));
  assert.ok(bucket.take(11_000));
});

test("token bucket: refuses a capacity below 1 or a negative rate", () => {
  assert.throws(() => new TokenBucket({ capacity: 0, refillPerSecond: 1 }, 0), /capacity/);
  assert.throws(() => new TokenBucket({ capacity: 1, refillPerSecond: -1 }, 0), /refillPerSecond/);
  assert.throws(() => new SourceLimit({ capacity: Number.NaN, refillPerSecond: 1 }), /capacity/);
});

test("source limit: one source over its limit does not limit another", () => {
  const limit = new SourceLimit({ capacity: 2, refillPerSecond: 0 });
  assert.equal([1, 2, 3].map(() => limit.take("10.0.0.1", 0)), [true, true, false]);
  assert.ok(limit.take("10.0.0.2", 0));
});

test("source limit: remembers at most maxSources, forgetting the least recently heard", () => {
  const limit = new SourceLimit({ capacity: 1, refillPerSecond: 0, maxSources: 2 });
  assert.ok(limit.take("a", 0));
  assert.ok(limit.take("b", 0));
  assert.not.ok(limit.take("a", 0), "a is heard again, so b is now the least recent");
  assert.ok(limit.take("c", 0), "c evicts b");
  assert.is(limit.trackedSources, 2);
  assert.not.ok(limit.take("a", 0), "a was kept, still empty");
  assert.ok(limit.take("b", 0), "b was forgotten, so it starts full");
});

test("log throttle: one line per source per interval, saying how many were held back", () => {
  const throttle = new LogThrottle(1000);
  assert.equal(throttle.admit("x", 0), { held: 0 });
  assert.is(throttle.admit("x", 10), undefined);
  assert.is(throttle.admit("x", 999), undefined);
  assert.equal(throttle.admit("y", 20), { held: 0 }, "another source has its own interval");
  assert.equal(throttle.admit("x", 1000), { held: 2 });
  assert.is(throttle.admit("x", 1500), undefined);
});

test("log throttle: remembers at most maxSources", () => {
  const throttle = new LogThrottle(1000, 1);
  assert.ok(throttle.admit("x", 0));
  assert.ok(throttle.admit("y", 0));
  assert.equal(throttle.admit("x", 1), { held: 0 }, "x was forgotten, so it logs again");
});

test.run();
