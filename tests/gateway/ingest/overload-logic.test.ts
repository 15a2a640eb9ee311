import { test } from "uvu";
import * as assert from "uvu/assert";
import { TokenBucket } from "../../../hosts/gateway/ingest/token-bucket.js";
import { RateLimiter } from "../../../hosts/gateway/ingest/rate-limiter.js";
import { LogThrottle } from "../../../hosts/log/log-throttle.js";
import { BackpressureGate } from "../../../hosts/gateway/ingest/backpressure.js";
import { rowsToEvict } from "../../../hosts/gateway/store/disk-cap.js";

test("token bucket: a burst passes at once, then tokens are reserved at the rate, and a wait past the max takes nothing", () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert.equal([bucket.take(0, 250), bucket.take(0, 250), bucket.take(0, 250)], [0, 0, 0]);
  assert.is(bucket.take(0, 250), 100);
  assert.is(bucket.take(0, 250), 200);
  assert.is(bucket.take(0, 250), null, "300 ms would exceed the 250 ms max");
  assert.is(bucket.take(0, 250), null, "a refusal reserves nothing, so the next is refused alike");
  assert.is(bucket.take(200, 250), 100, "the two reserved tokens are paid back after 200 ms; a new one is due 100 ms later");
  assert.is(bucket.take(400, 250), 0);
  assert.not.ok(bucket.isFull(400));
  assert.ok(bucket.isFull(10_000), "refills up to the burst, no further");
  assert.is(bucket.take(5_000, 0), 0);
});

test("token bucket: a clock stepping back does not drain it; bad limits are RangeErrors", () => {
  const bucket = new TokenBucket(1, 1, 1000);
  assert.is(bucket.take(1000, 0), 0);
  assert.is(bucket.take(500, 0), null);
  assert.is(bucket.take(2000, 0), 0);
  assert.throws(() => new TokenBucket(0, 1, 0), RangeError);
  assert.throws(() => new TokenBucket(1, 0.5, 0), RangeError);
});

test("rate limiter: one bucket per client; a flooding client does not use up another's tokens", () => {
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 2, maxDelayMs: 100 });
  assert.equal(limiter.decide("a", 0), { kind: "pass" });
  assert.equal(limiter.decide("a", 0), { kind: "pass" });
  assert.equal(limiter.decide("a", 0), { kind: "delay", ms: 100 });
  assert.equal(limiter.decide("a", 0), { kind: "refuse" });
  assert.equal(limiter.decide("b", 0), { kind: "pass" });
  assert.is(limiter.clients, 2);
});

test("rate limiter: Infinity is no limit; idle clients' buckets are forgotten, so memory stays bounded", () => {
  const open = new RateLimiter({ ratePerSecond: Infinity, burst: 1, maxDelayMs: 0 });
  for (let i = 0; i < 1000; i++) assert.equal(open.decide("a", 0), { kind: "pass" });
  assert.is(open.clients, 0);
  const limiter = new RateLimiter({ ratePerSecond: 100, burst: 1, maxDelayMs: 0 });
  for (let i = 0; i < 5000; i++) limiter.decide(`client-${i}`, i * 100);
  assert.ok(limiter.clients <= 1025, `${limiter.clients} buckets kept`);
  assert.throws(() => new RateLimiter({ ratePerSecond: 0, burst: 1, maxDelayMs: 0 }), RangeError);
});

test("log throttle: one line per key per interval, carrying the count of the lines it stood for", () => {
  const throttle = new LogThrottle(1000);
  assert.equal(throttle.note("a", 0), { log: true, suppressed: 0 });
  assert.equal(throttle.note("a", 10), { log: false, suppressed: 1 });
  assert.equal(throttle.note("a", 20), { log: false, suppressed: 2 });
  assert.equal(throttle.note("b", 20), { log: true, suppressed: 0 });
  assert.equal(throttle.note("a", 1000), { log: true, suppressed: 2 });
  for (let i = 0; i < 3000; i++) throttle.note(`k${i}`, 5000 + i * 1000);
  assert.ok(throttle.size <= 1025, `${throttle.size} keys kept`);
});

test("backpressure gate: holds from high water, releases only below low water, refuses past the hold bound", () => {
  const gate = new BackpressureGate({ highWater: 10, lowWater: 8, maxHeld: 2 });
  assert.is(gate.admit(9, 0), "pass");
  assert.is(gate.admit(10, 0), "hold");
  assert.is(gate.admit(10, 1), "hold");
  assert.is(gate.admit(10, 2), "refuse");
  assert.is(gate.observe(9), "steady");
  assert.is(gate.admit(8, 0), "hold", "between the marks it stays over");
  assert.is(gate.observe(7), "released");
  assert.is(gate.admit(9, 0), "pass", "between the marks it stays released");
  assert.is(gate.observe(10), "over");
  assert.throws(() => new BackpressureGate({ highWater: 10, lowWater: 11, maxHeld: 1 }), RangeError);
  assert.throws(() => new BackpressureGate({ highWater: 10, lowWater: 0, maxHeld: 1 }), RangeError);
  assert.throws(() => new BackpressureGate({ highWater: 0, lowWater: 0, maxHeld: 1 }), RangeError);
});

test("rowsToEvict: proportional to the bytes over the target, at least one row when over, none when under", () => {
  assert.is(rowsToEvict(1000, 900, 100), 10);
  assert.is(rowsToEvict(1000, 999, 10), 1);
  assert.is(rowsToEvict(900, 900, 100), 0);
  assert.is(rowsToEvict(2000, 900, 0), 0);
});

test.run();
