import { test } from "uvu";
import { GATEWAY_TOKEN, TEST_CREDENTIALS, authHeader } from "../support/cloud-access.js";
import { secretDigestText } from "../../hosts/auth/secret-digest.js";
import * as assert from "uvu/assert";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { MAX_BODY_BYTES } from "../../hosts/http/http-json.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { call } from "../support/cloud-http.js";
import { observation, tempDir, within } from "../support/test-helpers.js";
import { request } from "node:http";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CLOUD_STORE_FILE, MIGRATIONS } from "../../simulator/cloud/cloud-store.js";

async function withCloud(run: (cloud: Cloud, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>): Promise<void> {
  const dir = tempDir("cloud");
  const logger = createMemoryLogger("cloud");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger });
  try {
    await run(cloud, logger);
  } finally {
    await cloud.close();
    dir.remove();
  }
}

test("a sensor registers, re-registers with a new secret, and is listed without its secret", async () => {
  await withCloud(async (cloud) => {
    const first = await call(cloud.url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: "correct horse" });
    assert.is(first.status, 201);
    assert.equal(Object.keys(first.body).sort(), ["registeredAt", "registrationOffset", "sensorId"]);
    await call(cloud.url, "POST", "/api/v1/sensors", { sensorId: "s-2", secret: "battery staple" });
    const again = await call(cloud.url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: "a new secret" });
    assert.is(again.status, 200);
    assert.is(again.body.registrationOffset, 3, "every registration takes the next offset");
    assert.is(cloud.store.secretDigestOf("s-1"), secretDigestText("a new secret"), "only the digest is kept");
    const list = await call(cloud.url, "GET", "/api/v1/sensors");
    assert.is(list.status, 200);
    assert.equal((list.body.sensors as { sensorId: string }[]).map((s) => s.sensorId), ["s-2", "s-1"]);
    assert.not.match(list.text, /secret|horse|staple/);
  });
});

const badRegistrations: Array<[string, unknown, string]> = [
  ["an id with a space", { sensorId: "s 1", secret: "12345678" }, "sensorId"],
  ["an id of 65 characters", { sensorId: "x".repeat(65), secret: "12345678" }, "sensorId"],
  ["a missing id", { secret: "12345678" }, "sensorId"],
  ["a 7-character secret", { sensorId: "s-1", secret: "1234567" }, "secret"],
  ["a 129-character secret", { sensorId: "s-1", secret: "x".repeat(129) }, "secret"],
  ["a numeric secret", { sensorId: "s-1", secret: 12345678 }, "secret"],
  ["an array body", [], "body"],
];

for (const [what, body, field] of badRegistrations) {
  test(`registration with ${what} is refused with 400 naming ${field}`, async () => {
    await withCloud(async (cloud) => {
      const answer = await call(cloud.url, "POST", "/api/v1/sensors", body);
      assert.is(answer.status, 400);
      assert.is(answer.body.field, field);
      assert.match(String(answer.body.error), new RegExp(`^${field}: `));
      assert.is(cloud.store.counts().sensors, 0);
    });
  });
}

test("a gateway batch is acked; its resend is acked as duplicates and not stored twice", async () => {
  await withCloud(async (cloud) => {
    const stored: number[] = [];
    cloud.onObservation((obs) => stored.push(obs.offset));
    const batch = { observations: [observation("s-1", 1), { ...observation("s-1", 2), receivedAt: 5, time: 1_795_000_000_000, timeSource: "device" }] };
    const first = await call(cloud.url, "POST", "/api/v1/observations", batch);
    assert.is(first.status, 200);
    assert.equal(first.body, { acked: [{ sensorId: "s-1", seq: 1 }, { sensorId: "s-1", seq: 2 }], duplicates: 0 });
    const resend = await call(cloud.url, "POST", "/api/v1/observations", batch);
    assert.equal(resend.body, { acked: [{ sensorId: "s-1", seq: 1 }, { sensorId: "s-1", seq: 2 }], duplicates: 2 });
    assert.is(cloud.store.counts().observations, 2);
    assert.equal(stored, [1, 2], "listeners hear of new observations only");
    const page = await call(cloud.url, "GET", "/api/v1/observations?after=1&limit=10");
    const [second] = page.body.observations as Record<string, unknown>[];
    assert.is(second.offset, 2);
    assert.is(second.time, 1_795_000_000_000);
    assert.is(second.timeSource, "device");
    assert.is(second.receivedAt, 5);
    assert.is(page.body.next, 2);
  });
});

test("the API returns each observation with units, its time and the time's source, null when unknown", async () => {
  await withCloud(async (cloud) => {
    const readings = [
      { quantity: "temperature", value: 21.37 },
      { quantity: "humidity", value: 45.5, unit: "%RH" },
      { quantity: "pressure", value: 101_325 },
    ];
    const timed = { ...observation("s-1", 1), readings, time: 1_795_000_001_000, timeSource: "gateway", receivedAt: 1_795_000_002_000 };
    const untimed = { ...observation("s-1", 2), time: null, timeSource: null };
    assert.is((await call(cloud.url, "POST", "/api/v1/observations", { observations: [timed, untimed] })).status, 200);
    const page = await call(cloud.url, "GET", "/api/v1/observations");
    const [first, second] = page.body.observations as Record<string, unknown>[];
    assert.equal(first, {
      offset: 1, sensorId: "s-1", seq: 1, boot: 1, uptimeMs: 1000, time: 1_795_000_001_000, timeSource: "gateway",
      readings: [
        { quantity: "temperature", unit: "Cel", value: 21.37 },
        { quantity: "humidity", unit: "%RH", value: 45.5 },
        { quantity: "pressure", unit: "Pa", value: 101_325 },
      ],
      receivedAt: 1_795_000_002_000, storedAt: first.storedAt,
    });
    assert.equal([second.time, second.timeSource, second.receivedAt], [null, null, null]);
    // What the API returns, the API accepts: a reader may forward it to another cloud.
    const copy = await call(cloud.url, "POST", "/api/v1/observations", { observations: [{ ...first, seq: 3 }] });
    assert.is(copy.status, 200);
    assert.equal(cloud.store.after(2, 1)[0].readings, first.readings);
  });
});

test("a store written before clock anchors opens with its device times marked as the device's", async () => {
  const dir = tempDir("cloud");
  const db = new Database(join(dir.path, CLOUD_STORE_FILE));
  db.exec(MIGRATIONS[0]);
  db.pragma("user_version = 1");
  db.prepare(
    `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, device_time, readings, gateway_received_at, stored_at)
     VALUES ('s-1', 1, 1, 1000, 1795000000000, '[{"quantity":"temperature","value":21.5}]', 5, 6)`,
  ).run();
  db.close();
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  const [old] = cloud.store.after(0, 1);
  assert.equal([old.time, old.timeSource, old.readings[0].unit], [1_795_000_000_000, "device", "Cel"]);
  await cloud.close();
  dir.remove();
});

test("a batch with one bad observation is refused with 400 naming its index and field, and nothing of it is stored", async () => {
  await withCloud(async (cloud) => {
    const cases: Array<[unknown, string]> = [
      [{ ...observation("s-1", 2), seq: 0 }, "observations[1].seq"],
      [{ ...observation("s-1", 2), readings: [{ quantity: "colour", value: 1 }] }, "observations[1].readings[0].quantity"],
      [{ ...observation("s-1", 2), readings: "warm" }, "observations[1].readings"],
      [{ ...observation("s-1", 2), sensorId: "bad id" }, "observations[1].sensorId"],
      [{ ...observation("s-1", 2), readings: [] }, "observations[1].readings"],
      [{ ...observation("s-1", 2), readings: [{ quantity: "temperature", unit: "K", value: 290 }] }, "observations[1].readings[0].unit"],
      [{ ...observation("s-1", 2), readings: [{ quantity: "temperature", value: "warm" }] }, "observations[1].readings[0].value"],
      [{ ...observation("s-1", 2), uptimeMs: -1 }, "observations[1].uptimeMs"],
      [{ ...observation("s-1", 2), time: 1.5, timeSource: "device" }, "observations[1].time"],
      [{ ...observation("s-1", 2), time: 1_795_000_000_000 }, "observations[1].timeSource"],
      [{ ...observation("s-1", 2), time: 1_795_000_000_000, timeSource: "sundial" }, "observations[1].timeSource"],
      [{ ...observation("s-1", 2), timeSource: "device" }, "observations[1].timeSource"],
      [{ ...observation("s-1", 2), receivedAt: "yesterday" }, "observations[1].receivedAt"],
      ["not an object", "observations[1]"],
    ];
    for (const [bad, field] of cases) {
      const answer = await call(cloud.url, "POST", "/api/v1/observations", { observations: [observation("s-1", 1), bad] });
      assert.is(answer.status, 400, field);
      assert.is(answer.body.field, field);
      assert.match(String(answer.body.error), new RegExp(`^${field.replace(/[[\].]/g, "\\$&")}: \\w`), "the message names the field, then says why");
    }
    assert.is((await call(cloud.url, "POST", "/api/v1/observations", { items: [] })).body.field, "observations");
    assert.is(cloud.store.counts().observations, 0);
  });
});

test("bad JSON, a body over the limit, an unknown route, a wrong method and bad paging all answer clearly", async () => {
  await withCloud(async (cloud, logger) => {
    const badJson = await call(cloud.url, "POST", "/api/v1/sensors", undefined, "{\"sensorId\": ");
    assert.is(badJson.status, 400);
    assert.match(String(badJson.body.error), /not valid JSON/);
    const empty = await call(cloud.url, "POST", "/api/v1/sensors", undefined, "");
    assert.is(empty.status, 400);
    assert.match(String(empty.body.error), /empty/);
    const huge = await call(cloud.url, "POST", "/api/v1/observations", undefined, " ".repeat(MAX_BODY_BYTES + 1));
    assert.is(huge.status, 413);
    assert.match(String(huge.body.error), /MAX_BODY_BYTES/);
    const unknown = await call(cloud.url, "GET", "/api/v2/nothing");
    assert.is(unknown.status, 404);
    assert.match(String(unknown.body.error), /no route GET \/api\/v2\/nothing/);
    const wrongMethod = await call(cloud.url, "DELETE", "/api/v1/sensors");
    assert.is(wrongMethod.status, 405);
    const badAfter = await call(cloud.url, "GET", "/api/v1/observations?after=-1");
    assert.is(badAfter.status, 400);
    assert.match(String(badAfter.body.error), /^after must be/);
    assert.is((await call(cloud.url, "GET", "/api/v1/observations?limit=5000")).status, 400);
    assert.ok(logger.lines.some((l) => l.level === "warn" && /-> 413/.test(String(l.msg))));
    const health = await call(cloud.url, "GET", "/healthz");
    assert.is(health.status, 200, "the cloud still serves after all that");
  });
});

test("a chunked body (no Content-Length) that grows over the limit is cut off with 413", async () => {
  await withCloud(async (cloud) => {
    const status = await within(
      "413 for a chunked body",
      new Promise<number>((resolve, reject) => {
        const req = request(`${cloud.url}/api/v1/observations`, { method: "POST", headers: { "transfer-encoding": "chunked", ...authHeader(GATEWAY_TOKEN) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        const chunk = " ".repeat(64 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent <= MAX_BODY_BYTES) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once("drain", pump);
          }
          req.end();
        };
        pump();
      }),
    );
    assert.is(status, 413);
    assert.is((await call(cloud.url, "GET", "/healthz")).status, 200);
  });
});

test("data survives a restart of the cloud", async () => {
  const dir = tempDir("cloud");
  let cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  await call(cloud.url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: "12345678" });
  await call(cloud.url, "POST", "/api/v1/observations", { observations: [observation("s-1", 1)] });
  await cloud.close();
  cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  assert.equal(cloud.store.counts(), { sensors: 1, observations: 1 });
  await cloud.close();
  dir.remove();
});

test.run();
