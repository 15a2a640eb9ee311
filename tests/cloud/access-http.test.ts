/*
 * Credentials on the reference cloud's HTTP API, through real HTTP requests:
 * each route refuses a request without a token or with a wrong one (401, a
 * Bearer challenge) and a role that may not (403), stores nothing for it,
 * counts it, logs it throttled and without the token; the role that may is
 * served, also while a flood of bad tokens runs.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { ADMIN_TOKEN, authHeader, CONSUMER_TOKEN, GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import { call } from "../support/cloud-http.js";
import { SseReader } from "../support/cloud-sse.js";
import { observation, tempDir, within } from "../support/test-helpers.js";

const WRONG_TOKEN = "not-a-token-of-this-cloud-42";

async function withCloud(run: (cloud: Cloud, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>): Promise<void> {
  const dir = tempDir("cloud-access");
  const logger = createMemoryLogger("cloud");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger });
  try {
    await run(cloud, logger);
  } finally {
    await cloud.close();
    dir.remove();
  }
}

const registration = { sensorId: "s-1", secret: "correct horse battery" };
const batch = { observations: [observation("s-1", 1)] };

/** Status of a GET that may be a stream: the answer's head is enough. */
function statusOf(url: string, headers: Record<string, string>): Promise<{ status: number; challenge: string | undefined }> {
  return within(`GET ${url}`, new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      resolve({ status: res.statusCode ?? 0, challenge: res.headers["www-authenticate"] });
      res.destroy();
    });
    req.on("error", reject).end();
  }));
}

const routes: Array<[string, string, unknown, string[], string[]]> = [
  // method, path, body, roles that may, roles that may not
  ["POST", "/api/v1/sensors", registration, ["admin"], ["gateway", "consumer"]],
  ["GET", "/api/v1/sensors", undefined, ["admin", "gateway", "consumer"], []],
  ["POST", "/api/v1/observations", batch, ["admin", "gateway"], ["consumer"]],
  ["GET", "/api/v1/observations", undefined, ["admin", "gateway", "consumer"], []],
  ["GET", "/api/v1/observations/stream", undefined, ["admin", "gateway", "consumer"], []],
  ["GET", "/api/v1/registrations/stream", undefined, ["admin", "gateway"], ["consumer"]],
];
const TOKEN_OF: Record<string, string> = { admin: ADMIN_TOKEN, gateway: GATEWAY_TOKEN, consumer: CONSUMER_TOKEN };

test("every route but /healthz: 401 without a token or with a wrong one, 403 for a role that may not, served for one that may", async () => {
  await withCloud(async (cloud) => {
    for (const [method, path, body, allowed, refused] of routes) {
      const streams = path.endsWith("/stream");
      const ask = (token: string | null) =>
        streams ? statusOf(cloud.url + path, token === null ? {} : authHeader(token)) : call(cloud.url, method, path, body, undefined, token).then((a) => ({ ...a, challenge: undefined }));
      const before = cloud.store.counts();
      for (const token of [null, WRONG_TOKEN]) {
        const answer = await ask(token);
        assert.is(answer.status, 401, `${method} ${path} with ${token ?? "no token"}`);
        if (streams) assert.is(answer.challenge, 'Bearer realm="xsedge cloud"');
      }
      for (const role of refused) assert.is((await ask(TOKEN_OF[role])).status, 403, `${method} ${path} as ${role}`);
      assert.equal(cloud.store.counts(), before, `a refused ${method} ${path} stores nothing`);
      for (const role of allowed) assert.ok([200, 201].includes((await ask(TOKEN_OF[role])).status), `${method} ${path} as ${role}`);
    }
    const health = await call(cloud.url, "GET", "/healthz", undefined, undefined, null);
    assert.is(health.status, 200, "/healthz is public");
    const refused = cloud.accessStats().refused;
    assert.equal(refused, { missing: routes.length, invalid: routes.length, forbidden: routes.reduce((n, r) => n + r[4].length, 0) });
    assert.equal((health.body.access as { refused: unknown }).refused, refused);
  });
});

test("a malformed authorization header is refused with 401; Basic credentials carrying the token are accepted", async () => {
  await withCloud(async (cloud) => {
    for (const header of ["Bearer", "Token abc", `Bearer ${ADMIN_TOKEN} extra`, "Basic !!!"]) {
      const answer = await statusOf(`${cloud.url}/api/v1/sensors`, { authorization: header });
      assert.is(answer.status, 401, header);
    }
    const basic = Buffer.from(`anyone:${CONSUMER_TOKEN}`).toString("base64");
    assert.is((await statusOf(`${cloud.url}/api/v1/sensors`, { authorization: `Basic ${basic}` })).status, 200);
  });
});

test("refusals are logged without the presented token, throttled per address, while honest clients are served", async () => {
  await withCloud(async (cloud, logger) => {
    const flood = Array.from({ length: 100 }, (_, i) => call(cloud.url, "POST", "/api/v1/sensors", { sensorId: `x-${i}`, secret: "attacker's secret" }, undefined, `${WRONG_TOKEN}${i}`));
    const honest = call(cloud.url, "POST", "/api/v1/sensors", registration);
    const answers = await Promise.all(flood);
    assert.ok(answers.every((a) => a.status === 401));
    assert.is((await honest).status, 201, "the admin registers during the flood");
    const stream = await SseReader.open(`${cloud.url}/api/v1/registrations/stream`, authHeader(GATEWAY_TOKEN));
    const [event] = await stream.next(1);
    assert.is(JSON.parse(event.data).sensorId, "s-1");
    stream.close();
    assert.is(cloud.store.counts().sensors, 1);
    assert.is(cloud.accessStats().refused.invalid, 100);
    const lines = logger.lines.filter((l) => /^refused POST \/api\/v1\/sensors/.test(String(l.msg)));
    assert.is(lines.length, 1, "one line for one address within the interval");
    const text = JSON.stringify(logger.lines);
    assert.not.ok(text.includes(WRONG_TOKEN), "no presented token in the log");
    assert.not.ok(text.includes(ADMIN_TOKEN) || text.includes("correct horse"), "no secret in the log");
  });
});

test("a registration's secret never leaves the cloud: the stream carries its digest, the SQLite files hold neither", async () => {
  await withCloud(async (cloud) => {
    await call(cloud.url, "POST", "/api/v1/sensors", registration);
    const stream = await SseReader.open(`${cloud.url}/api/v1/registrations/stream`, authHeader(GATEWAY_TOKEN));
    const [event] = await stream.next(1);
    stream.close();
    assert.match(JSON.parse(event.data).secretDigest, /^sha256:[0-9a-f]{64}$/);
    assert.not.ok(event.data.includes(registration.secret));
    const dir = dirname(cloud.store.path);
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /\.db/.test(f));
    assert.ok(files.includes("cloud.db") && files.includes("cloud.db-wal"), "the database and its WAL are read");
    for (const file of files) {
      assert.not.ok(readFileSync(join(dir, file)).includes(Buffer.from(registration.secret)), `${file} holds the secret`);
    }
  });
});

test("a secret that looks like a digest is refused: the streams would read it as one", async () => {
  await withCloud(async (cloud) => {
    const answer = await call(cloud.url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: `sha256:${"a".repeat(64)}` });
    assert.is(answer.status, 400);
    assert.is(answer.body.field, "secret");
  });
});

test.run();
