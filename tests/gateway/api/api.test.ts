import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "node:net";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { MAX_OBSERVATIONS_LIMIT } from "../../../hosts/gateway/api/server.js";
import { downConnector } from "../../support/gateway-fakes.js";
import { call } from "../../support/cloud-http.js";
import { pollFor, secretOf, startApiGateway } from "../../support/gateway-api.js";
import { tempDir, waitFor, quietLogger } from "../../support/test-helpers.js";

test("GET /api/v1/sensors joins the registry with the store, and serves no secrets", async () => {
  const t = await startApiGateway(["s-1", "s-2", "s-idle"]);
  try {
    await t.publish(await t.device("s-1"), [1, 2, 3]);
    await t.publish(await t.device("s-2"), [7]);
    const answer = await call(t.base, "GET", "/api/v1/sensors");
    assert.is(answer.status, 200);
    const sensors = answer.body.sensors as Record<string, unknown>[];
    assert.equal(sensors.map((s) => [s.sensorId, s.registered, s.observations, s.lastSeq]), [
      ["s-1", true, 3, 3],
      ["s-2", true, 1, 7],
      ["s-idle", true, 0, null],
    ]);
    assert.equal(sensors[0].lastReadings, [{ quantity: "temperature", unit: "Cel", value: 20.3 }]);
    assert.type(sensors[0].lastReceivedAt, "number");
    assert.type(sensors[0].registeredAt, "number");
    assert.is(sensors[2].lastReceivedAt, null);
    for (const id of ["s-1", "s-2", "s-idle"]) assert.not.ok(answer.text.includes(secretOf(id)), "no secret is served");
  } finally {
    await t.done();
  }
});

test("GET /api/v1/observations: newest first, limit, by sensor, and oldest first after an id", async () => {
  const t = await startApiGateway(["s-1", "s-2"]);
  try {
    const one = await t.device("s-1");
    const two = await t.device("s-2");
    await t.publish(one, [1, 2]);
    await t.publish(two, [1]);
    await t.publish(one, [3]);
    const all = await call(t.base, "GET", "/api/v1/observations");
    const rows = all.body.observations as Record<string, unknown>[];
    assert.equal(rows.map((o) => [o.id, o.sensorId, o.seq]), [[4, "s-1", 3], [3, "s-2", 1], [2, "s-1", 2], [1, "s-1", 1]]);
    assert.equal(Object.keys(rows[0]).sort(), ["boot", "id", "readings", "receivedAt", "relayedAt", "sensorId", "seq", "time", "timeSource", "uptimeMs"]);
    assert.equal(rows[3].readings, [{ quantity: "temperature", unit: "Cel", value: 20.1 }]);
    const page = await call(t.base, "GET", "/api/v1/observations?limit=2");
    assert.equal((page.body.observations as { id: number }[]).map((o) => o.id), [4, 3]);
    const ofOne = await call(t.base, "GET", "/api/v1/observations?sensorId=s-1&limit=2");
    assert.equal((ofOne.body.observations as { seq: number }[]).map((o) => o.seq), [3, 2]);
    const after = await call(t.base, "GET", "/api/v1/observations?after=1&limit=2");
    assert.equal((after.body.observations as { id: number }[]).map((o) => o.id), [2, 3]);
    const afterOfTwo = await call(t.base, "GET", "/api/v1/observations?after=0&sensorId=s-2");
    assert.equal((afterOfTwo.body.observations as { id: number }[]).map((o) => o.id), [3]);
    const max = await call(t.base, "GET", `/api/v1/observations?limit=${MAX_OBSERVATIONS_LIMIT}`);
    assert.is(max.status, 200);
  } finally {
    await t.done();
  }
});

test("bad query parameters are 400 naming the parameter; unknown paths 404; wrong methods 405", async () => {
  const t = await startApiGateway(["s-1"]);
  try {
    const cases: [string, RegExp][] = [
      ["/api/v1/observations?limit=abc", /^limit must be an integer from 1 to 1000, got "abc"$/],
      ["/api/v1/observations?limit=0", /^limit must be an integer from 1 to 1000/],
      [`/api/v1/observations?limit=${MAX_OBSERVATIONS_LIMIT + 1}`, /^limit must be .* got "1001"/],
      ["/api/v1/observations?after=-1", /^after must be an integer from 0/],
      ["/api/v1/observations?after=1.5", /^after must be an integer/],
      ["/api/v1/observations?sensorId=a%2Fb", /^sensorId must be 1 to 64 letters.*got "a\/b"/],
      ["/api/v1/observations?limt=5", /^unknown query parameter "limt"; expected sensorId, after, limit$/],
      ["/api/v1/observations?limit=1&limit=2", /^query parameter limit given more than once$/],
      ["/api/v1/sensors?x=1", /^unknown query parameter "x"; this route takes none$/],
      ["/api/v1/observations/stream?after=x", /^after must be an integer/],
    ];
    for (const [path, message] of cases) {
      const answer = await call(t.base, "GET", path);
      assert.is(answer.status, 400, path);
      assert.match(String(answer.body.error), message, path);
    }
    const missing = await call(t.base, "GET", "/api/v2/sensors");
    assert.equal([missing.status, missing.body], [404, { error: "no route GET /api/v2/sensors" }]);
    const response = await fetch(`${t.base}/api/v1/sensors`, { method: "DELETE" });
    assert.is(response.status, 405);
    assert.is(response.headers.get("allow"), "GET");
    assert.equal(await response.json(), { error: "/api/v1/sensors does not accept DELETE" });
    assert.ok(t.logger.lines.some((l) => /-> 400: limit must be/.test(String(l.msg))), "refusals are logged");
  } finally {
    await t.done();
  }
});

test("GET /api/v1/outbox and /api/v1/relay: what waits for a cloud that is down, and the relay's state", async () => {
  const t = await startApiGateway(["s-1"], { connector: downConnector(), relayRetryInitialMs: 20, relayRetryMaxMs: 50 });
  try {
    await t.publish(await t.device("s-1"), [1, 2, 3]);
    const outbox = await call(t.base, "GET", "/api/v1/outbox");
    assert.is(outbox.status, 200);
    assert.is(outbox.body.depth, 3);
    assert.type(outbox.body.oldestAgeMs, "number");
    assert.type(outbox.body.oldestReceivedAt, "number");
    assert.equal((outbox.body.counts as Record<string, number>).observations, 3);
    await waitFor("a failed relay attempt", () => t.gateway.stats().relay.failures > 0);
    const relay = await call(t.base, "GET", "/api/v1/relay");
    assert.is(relay.body.connector, "down");
    assert.is(relay.body.lastError, "cloud unreachable (test)");
    assert.is(relay.body.backlog, 3);
    assert.type(relay.body.failingSince, "number");
  } finally {
    await t.done();
  }
});

test("an empty outbox once the cloud has everything", async () => {
  const t = await startApiGateway(["s-1"]);
  try {
    await t.publish(await t.device("s-1"), [1, 2]);
    await waitFor("the relay to drain", () => t.gateway.stats().relay.backlog === 0);
    const outbox = await call(t.base, "GET", "/api/v1/outbox");
    assert.equal([outbox.body.depth, outbox.body.oldestAgeMs, outbox.body.oldestReceivedAt], [0, null, null]);
    const relay = await call(t.base, "GET", "/api/v1/relay");
    assert.equal([relay.body.relayed, relay.body.failingSince], [2, null]);
  } finally {
    await t.done();
  }
});

test("GET /healthz: ok, then 503 once the relay has failed longer than the threshold", async () => {
  const ok = await startApiGateway(["s-1"]);
  try {
    const answer = await call(ok.base, "GET", "/healthz");
    assert.equal([answer.status, answer.body], [200, { status: "ok" }]);
  } finally {
    await ok.done();
  }
  const t = await startApiGateway(["s-1"], { connector: downConnector(), relayRetryInitialMs: 20, relayRetryMaxMs: 50, relayFailingThresholdMs: 150 });
  try {
    await t.publish(await t.device("s-1"), [1]);
    const failing = await pollFor("healthz to fail", async () => {
      const answer = await call(t.base, "GET", "/healthz");
      return answer.status === 503 ? answer : undefined;
    });
    assert.is(failing.body.status, "failing");
    assert.match((failing.body.reasons as string[]).join(), /^relay failing for \d+ ms \(threshold 150 ms\)$/);
  } finally {
    await t.done();
  }
});

test("a closed store makes /healthz 503 and the data routes 503, not a crash", async () => {
  const t = await startApiGateway(["s-1"]);
  try {
    t.gateway.store.close();
    const health = await call(t.base, "GET", "/healthz");
    assert.is(health.status, 503);
    assert.equal(health.body.reasons, ["store closed: observations cannot be stored or acknowledged"]);
    for (const path of ["/api/v1/sensors", "/api/v1/observations", "/api/v1/outbox", "/api/v1/observations/stream"]) {
      const answer = await call(t.base, "GET", path);
      assert.is(answer.status, 503, path);
      assert.match(String(answer.body.error), /store is closed/, path);
    }
  } finally {
    await t.done();
  }
});

test("an HTTP port in use fails the start with the reason, and releases the MQTT port and the store", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const taken = (blocker.address() as { port: number }).port;
  const dir = tempDir("api-port");
  try {
    const start = (httpPort: number) => startGateway({ mqttPort: 0, httpPort, dataDir: dir.path, connector: downConnector(), logger: quietLogger() });
    await start(taken).then(
      () => assert.unreachable("started on a taken port"),
      (error: Error) => assert.match(error.message, /EADDRINUSE/),
    );
    // The store was closed: opening it again in the same process works.
    const again = await start(0);
    assert.type(again.httpPort, "number");
    await again.close();
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
    dir.remove();
  }
});

test("httpPort null runs no HTTP API", async () => {
  const t = await startApiGateway(["s-1"], { httpPort: null });
  try {
    assert.is(t.gateway.httpPort, null);
    const { sseClients, sseStalled, sseBufferedBytes } = t.gateway.stats().http;
    assert.equal([sseClients, sseStalled, sseBufferedBytes], [0, 0, 0]);
  } finally {
    await t.done();
  }
});

test.run();
