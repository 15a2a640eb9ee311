/*
 * The pure parts of the device listener's limits: the login throttle
 * (hosts/gateway/ingest/login-throttle.ts) and the connection guard and
 * limit checks (listener-limits.ts), with the clock as a number.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LoginThrottle, MAX_KEYS_PER_ADDRESS } from "../../../hosts/gateway/ingest/login-throttle.js";
import { ConnectionGuard, DEFAULT_LISTENER_LIMITS, listenerLimits } from "../../../hosts/gateway/ingest/listener-limits.js";

const limits = { initialDelayMs: 100, maxDelayMs: 400, maxFailures: 5, forgetAfterMs: 60_000, maxKeys: 1000 };

test("throttle: a fresh key goes at once; each failure doubles the wait before the next attempt, up to the most", () => {
  const throttle = new LoginThrottle(limits);
  assert.equal(throttle.check("10.0.0.9", "s-1", 0), { kind: "go" });
  const waits: unknown[] = [];
  let now = 0;
  for (let failure = 1; failure <= 4; failure++) {
    throttle.failed("10.0.0.9", "s-1", now);
    waits.push(throttle.check("10.0.0.9", "s-1", now));
    now += 1000;
    throttle.abandoned("10.0.0.9", "s-1");
  }
  assert.equal(waits, [{ kind: "wait", ms: 100 }, { kind: "wait", ms: 200 }, { kind: "wait", ms: 400 }, { kind: "wait", ms: 400 }]);
  assert.equal(throttle.check("10.0.0.9", "s-1", now), { kind: "go" }, "once the wait has passed, an attempt goes at once");
});

test("throttle: while one attempt waits its turn, others for the key are refused as busy", () => {
  const throttle = new LoginThrottle(limits);
  throttle.failed("10.0.0.9", "s-1", 0);
  assert.equal(throttle.check("10.0.0.9", "s-1", 10), { kind: "wait", ms: 90 });
  assert.equal(throttle.check("10.0.0.9", "s-1", 11), { kind: "refuse", why: "busy" });
  throttle.failed("10.0.0.9", "s-1", 100);
  assert.equal(throttle.check("10.0.0.9", "s-1", 300), { kind: "go" });
});

test("throttle: after maxFailures the key is refused unchecked until forgetAfterMs after the last failure, however often it tries", () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 5; i++) throttle.failed("10.0.0.9", "s-1", i * 1000);
  for (let t = 5000; t < 64_000; t += 1000) assert.equal(throttle.check("10.0.0.9", "s-1", t), { kind: "refuse", why: "locked" }, `at ${t}`);
  assert.equal(throttle.check("10.0.0.9", "s-1", 4000 + 60_000), { kind: "go" }, "refusals do not prolong it");
});

test("throttle: the right password from another address is never delayed or refused; a success clears the key", () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 5; i++) throttle.failed("10.0.0.66", "s-1", 0);
  assert.equal(throttle.check("10.0.0.66", "s-1", 1), { kind: "refuse", why: "locked" });
  assert.equal(throttle.check("10.0.0.7", "s-1", 1), { kind: "go" }, "the sensor's own address");
  throttle.failed("10.0.0.7", "s-2", 0);
  assert.equal(throttle.check("10.0.0.7", "s-2", 500), { kind: "go" });
  throttle.succeeded("10.0.0.7", "s-2");
  assert.equal(throttle.check("10.0.0.7", "s-2", 501), { kind: "go" });
  throttle.failed("10.0.0.7", "s-2", 501);
  assert.equal(throttle.check("10.0.0.7", "s-2", 502), { kind: "wait", ms: 99 }, "one failure after the success: the first delay again");
});

test("throttle: memory is bounded; an address rotating sensor ids shares one key past its own allowance", () => {
  const throttle = new LoginThrottle({ ...limits, maxKeys: 100 });
  for (let i = 0; i < 5000; i++) throttle.failed(`10.1.${i >> 8}.${i & 255}`, "s-1", i);
  assert.ok(throttle.size <= 100, `${throttle.size} keys`);
  const rotating = new LoginThrottle(limits);
  for (let i = 0; i < MAX_KEYS_PER_ADDRESS + 10; i++) rotating.failed("10.0.0.66", `guess-${i}`, 0);
  assert.is(rotating.size, MAX_KEYS_PER_ADDRESS + 1, "its own allowance, plus one shared key");
  // Ten failures went to the shared key: a new id from that address is already refused.
  assert.equal(rotating.check("10.0.0.66", "never-tried", 1), { kind: "refuse", why: "locked" });
  assert.equal(rotating.check("10.0.0.7", "never-tried", 1), { kind: "go" });
});

test("throttle: bad limits are refused by name", () => {
  assert.throws(() => new LoginThrottle({ initialDelayMs: -1 }), /login delay/);
  assert.throws(() => new LoginThrottle({ initialDelayMs: 500, maxDelayMs: 100 }), /max delay/);
  assert.throws(() => new LoginThrottle({ maxFailures: 0 }), /max failures/);
});

test("guard: caps in all, per address, and on connections not yet logged in; closing frees the place", () => {
  const guard = new ConnectionGuard(listenerLimits({ maxConnections: 4, maxConnectionsPerAddress: 3, maxUnauthenticated: 3, maxUnauthenticatedPerAddress: 2 }));
  assert.is(guard.admit("a"), null);
  assert.is(guard.admit("a"), null);
  assert.is(guard.admit("a"), "too-many-unauthenticated-from-address");
  guard.authenticated("a");
  assert.is(guard.admit("a"), null);
  assert.is(guard.admit("a"), "too-many-from-address");
  assert.is(guard.admit("b"), null);
  assert.is(guard.admit("c"), "too-many-connections");
  guard.released("a", true);
  assert.is(guard.admit("c"), "too-many-unauthenticated", "a, a and b are still waiting to log in");
  guard.released("b", false);
  assert.is(guard.admit("c"), null);
  assert.equal([guard.connections, guard.unauthenticated, guard.addresses], [3, 3, 2]);
  for (const address of ["a", "a", "c"]) guard.released(address, false);
  assert.equal([guard.connections, guard.unauthenticated, guard.addresses], [0, 0, 0], "nothing is kept for addresses that have gone");
});

test("limits: defaults, and a bad one refused by name", () => {
  assert.equal(listenerLimits(), { ...DEFAULT_LISTENER_LIMITS });
  assert.is(listenerLimits({ maxInFlight: 8, maxConnections: undefined }).maxInFlight, 8);
  assert.throws(() => listenerLimits({ maxPacketBytes: 16 }), /mqtt maxPacketBytes must be an integer from 128/);
  assert.throws(() => listenerLimits({ connectTimeoutMs: 0 }), /mqtt connectTimeoutMs/);
});

test.run();
