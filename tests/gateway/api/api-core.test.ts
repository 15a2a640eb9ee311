import { test } from "uvu";
import * as assert from "uvu/assert";
import { HttpError } from "../../../hosts/http/http-json.js";
import { findDashboardDir } from "../../../hosts/gateway/api/dashboard-files.js";
import { assessHealth, RelayFailureClock, watchConnector } from "../../../hosts/gateway/api/health.js";
import { checkParams, intValue, sensorIdValue } from "../../../hosts/gateway/api/query.js";
import { sensorTable } from "../../../hosts/gateway/api/views.js";
import type { CloudConnector } from "../../../hosts/gateway/relay/connector.js";
import { observation } from "../../support/test-helpers.js";

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 400);
    return (e as Error).message;
  }
  throw new Error("expected a refusal");
}

test("health: ok, or each reason; the relay only past its threshold", () => {
  const healthy = { storeOpen: true, mqttListening: true, relayFailingSince: null, now: 10_000 };
  assert.equal(assessHealth(healthy, 1000), { status: "ok" });
  assert.equal(assessHealth({ ...healthy, relayFailingSince: 9_500 }, 1000), { status: "ok" });
  assert.equal(assessHealth({ ...healthy, relayFailingSince: 9_000 }, 1000), { status: "failing", reasons: ["relay failing for 1000 ms (threshold 1000 ms)"] });
  assert.equal(assessHealth({ storeOpen: false, mqttListening: false, relayFailingSince: null, now: 0 }, 1000), {
    status: "failing",
    reasons: ["store closed: observations cannot be stored or acknowledged", "mqtt listener down: devices cannot connect"],
  });
});

test("health: a store that cannot commit and a registration stream down past its threshold make it degraded, with the reason; failing outranks", () => {
  const healthy = { storeOpen: true, mqttListening: true, relayFailingSince: null, now: 10_000 };
  const stream = { state: "retrying", streamAgeMs: null, idleMs: null, downForMs: 999, lastError: "UNAVAILABLE (14): No connection established" };
  assert.equal(assessHealth({ ...healthy, registrationStream: stream }, 1000, 1000), { status: "ok", registrationStream: stream });
  const down = { ...stream, downForMs: 1000 };
  assert.equal(assessHealth({ ...healthy, registrationStream: down }, 1000, 1000), {
    status: "degraded",
    reasons: ["registration stream down for 1000 ms (threshold 1000 ms): UNAVAILABLE (14): No connection established; new registrations and secrets do not arrive"],
    registrationStream: down,
  });
  const full = assessHealth({ ...healthy, storeCommitFailure: { since: 7_000, error: "database or disk is full" } });
  assert.equal(full, { status: "degraded", reasons: ["store cannot commit for 3000 ms (database or disk is full): publishes are not acknowledged, devices keep them"] });
  const both = assessHealth({ ...healthy, mqttListening: false, storeCommitFailure: { since: 7_000, error: "disk I/O error" } });
  assert.is(both.status, "failing");
  assert.equal(both.status !== "ok" && both.reasons.length, 2);
});

test("the relay's failure clock: since the first failure after a success; a partial or doubled ack is a failure", async () => {
  const clock = new RelayFailureClock();
  let now = 100;
  let answer: "all" | "half" | "twice" | "throw" = "throw";
  const inner: CloudConnector = {
    name: "fake",
    async send(batch) {
      if (answer === "throw") throw new Error("down");
      const keys = batch.map(({ sensorId, seq }) => ({ sensorId, seq }));
      return { acked: answer === "all" ? keys : answer === "half" ? keys.slice(1) : [keys[0], keys[0]] };
    },
    async close() {},
  };
  const watched = watchConnector(inner, clock, () => now);
  const batch = [1, 2].map((seq) => ({ ...observation("s-1", seq), receivedAt: 1 }));
  await watched.send(batch).catch(() => {});
  assert.is(clock.failingSince, 100);
  now = 200;
  answer = "half";
  await watched.send(batch);
  assert.is(clock.failingSince, 100, "still failing since the first failure");
  answer = "all";
  await watched.send(batch);
  assert.is(clock.failingSince, null);
  now = 300;
  answer = "twice";
  await watched.send(batch);
  assert.is(clock.failingSince, 300);
  assert.is(watched.name, "fake");
});

test("query parameters: unknown, repeated, out of range and malformed ones are refused by name", () => {
  assert.match(refusal(() => checkParams(new URLSearchParams("a=1"), ["b"])), /^unknown query parameter "a"; expected b$/);
  assert.match(refusal(() => checkParams(new URLSearchParams("b=1&b=2"), ["b"])), /^query parameter b given more than once$/);
  checkParams(new URLSearchParams("b=1"), ["b"]);
  const range = { min: 1, max: 10 };
  assert.is(intValue("limit", null, range, 5), 5);
  assert.is(intValue("limit", "10", range, 5), 10);
  for (const raw of ["0", "11", "", "1e1", " 3", "0x5", "99999999999999999"]) {
    assert.match(refusal(() => intValue("limit", raw, range, 5)), /^limit must be an integer from 1 to 10, got /, raw);
  }
  assert.is(sensorIdValue(new URLSearchParams("sensorId=ok-1")), "ok-1");
  assert.is(sensorIdValue(new URLSearchParams("")), undefined);
  assert.match(refusal(() => sensorIdValue(new URLSearchParams(`sensorId=${"x".repeat(65)}`))), /^sensorId must be/);
});

test("the sensor table: registered sensors without data, and stored sensors no longer registered", () => {
  const summary = { sensorId: "b", observations: 2, lastSeq: 9, lastReceivedAt: 50, lastTime: null, lastReadings: [{ quantity: "humidity" as const, value: 40 }] };
  const table = sensorTable([{ sensorId: "c", registeredAt: 1 }, { sensorId: "b", registeredAt: 2 }], [summary, { ...summary, sensorId: "a" }]);
  assert.equal(table.map((s) => [s.sensorId, s.registered, s.registeredAt, s.observations, s.lastSeq]), [
    ["a", false, null, 2, 9],
    ["b", true, 2, 2, 9],
    ["c", true, 1, 0, null],
  ]);
  assert.equal(table[1].lastReadings, [{ quantity: "humidity", unit: "%RH", value: 40 }]);
});

test("the dashboard folder is found from the compiled module; a missing one is an error naming where it looked", () => {
  assert.match(findDashboardDir(), /hosts\/gateway\/dashboard\/$/);
  assert.throws(() => findDashboardDir("file:///nowhere/a/b/c/d/module.js"), /dashboard files not found: looked for index.html in \/nowhere\/a\/b\/c\/dashboard\/ and \/nowhere\/hosts\/gateway\/dashboard\//);
});

test.run();
