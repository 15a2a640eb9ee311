/*
 * Who may read the local API, through real HTTP(S) requests: with a token,
 * every path but /healthz refuses a request without it or with a wrong one
 * (401 with a Basic challenge, counted in /metrics, logged without the
 * token) and serves Bearer and Basic; with a client CA, a certificate it
 * signed is enough; off loopback without a credential the gateway does not
 * start at all. Devices are served throughout.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { request as httpsRequest } from "node:https";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { ApiExposureError, isLoopbackHost } from "../../../hosts/gateway/api/api-access.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { startApiGateway } from "../../support/gateway-api.js";
import { makeTestCertificates } from "../../support/test-certificates.js";
import { tempDir, within } from "../../support/test-helpers.js";

const TOKEN = "local-api-token-0123456789";
const PATHS = ["/", "/app.js", "/api/v1/sensors", "/api/v1/observations", "/api/v1/observations/stream", "/api/v1/outbox", "/api/v1/relay", "/metrics"];

async function statusOf(url: string, headers: Record<string, string> = {}): Promise<{ status: number; challenge: string | null }> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const answer = { status: response.status, challenge: response.headers.get("www-authenticate") };
  controller.abort();
  return answer;
}

test("with a token: every path but /healthz is 401 without it or with a wrong one, served with Bearer or Basic; counted, logged without the token", async () => {
  const t = await startApiGateway(["s-1"], { httpAccess: { tokens: [TOKEN] } });
  try {
    const device = await t.device("s-1");
    for (const path of PATHS) {
      for (const headers of [{}, { authorization: "Bearer wrong-token-0123456789" }, { authorization: "Bearer" }] as Record<string, string>[]) {
        const answer = await statusOf(t.base + path, headers);
        assert.is(answer.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.match(String(answer.challenge), /^Basic realm="xsedge gateway"/, "a browser prompts for it");
      }
      assert.is((await statusOf(t.base + path, { authorization: `Bearer ${TOKEN}` })).status, 200, path);
      assert.is((await statusOf(t.base + path, { authorization: `Basic ${Buffer.from(`operator:${TOKEN}`).toString("base64")}` })).status, 200, path);
    }
    assert.is((await statusOf(`${t.base}/healthz`)).status, 200, "health probes carry no credential");
    assert.is((await statusOf(`${t.base}/no/such/path`)).status, 401, "without a credential the routes are not mapped: no 404");
    assert.is((await statusOf(`${t.base}/no/such/path`, { authorization: `Bearer ${TOKEN}` })).status, 404);
    // A flood of wrong tokens while the device publishes: every publish is acknowledged.
    const flood = Promise.all(Array.from({ length: 200 }, (_, i) => statusOf(`${t.base}/api/v1/sensors`, { authorization: `Bearer guess-${i}-0123456789abc` })));
    await t.publish(device, [1, 2, 3]);
    assert.ok((await flood).every((answer) => answer.status === 401));
    const metrics = await (await fetch(`${t.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assert.match(metrics, new RegExp(`xsedge_http_auth_refused_total\\{reason="missing"\\} ${PATHS.length + 1}\\n`));
    assert.match(metrics, new RegExp(`xsedge_http_auth_refused_total\\{reason="invalid"\\} ${2 * PATHS.length + 200}\\n`));
    assert.ok(t.gateway.store.find("s-1", 3));
    const log = JSON.stringify(t.logger.lines);
    assert.not.ok(log.includes(TOKEN) || log.includes("guess-1"), "no token in the log");
    assert.ok(t.logger.lines.filter((l) => /^refused GET \/api\/v1\/sensors from 127\.0\.0\.1/.test(String(l.msg))).length <= 2, "throttled per address");
  } finally {
    await t.done();
  }
});

test("a flood of bad requests costs answers, not log lines: one line per status and address per interval", async () => {
  const t = await startApiGateway(["s-1"]);
  try {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => statusOf(`${t.base}/api/v1/observations?limit=x${i}`)));
    assert.ok(answers.every((answer) => answer.status === 400));
    const lines = t.logger.lines.filter((l) => /-> 400: limit must be/.test(String(l.msg)));
    assert.is(lines.length, 1);
    await t.publish(await t.device("s-1"), [1]);
  } finally {
    await t.done();
  }
});

test("a client holding half a request open does not hold the gateway's stop", async () => {
  const t = await startApiGateway(["s-1"]);
  const socket = connect(t.gateway.httpPort!, "127.0.0.1");
  socket.on("error", () => {});
  try {
    await within("the connection", new Promise((resolve) => socket.once("connect", resolve)));
    socket.write("GET /api/v1/sensors HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await within("the gateway to close", t.gateway.close());
  } finally {
    socket.destroy();
    await t.done();
  }
});

test("off loopback, without a token, a client CA or http.public, the gateway refuses to start", async () => {
  assert.ok(["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"].every(isLoopbackHost));
  assert.not.ok(["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com"].some(isLoopbackHost));
  for (const httpHost of ["0.0.0.0", "192.0.2.1"]) {
    const dir = tempDir("api-exposure");
    try {
      const started = startGateway({ mqttPort: 0, httpPort: 0, httpHost, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), registry: undefined });
      const error = await within("the start to fail", started.then(() => undefined, (e: Error) => e));
      assert.ok(error instanceof ApiExposureError, String(error));
      assert.match(String(error?.message), new RegExp(`http.host ${httpHost} is not a loopback address: set http.token or http.tokenFile .* or http.public: true`));
    } finally {
      dir.remove();
    }
  }
});

function httpsStatus(port: number, path: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }, headers: Record<string, string> = {}): Promise<number> {
  return within(`GET https ${path}`, new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, headers, ...tls }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on("error", reject).end();
  }));
}

test("over TLS with a client CA: a certificate it signed opens the API without a token, a rogue one does not; /healthz needs neither", async () => {
  const certs = makeTestCertificates("api-tls");
  const t = await startApiGateway(["s-1"], { httpAccess: { tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile }, tokens: [TOKEN] } });
  const ca = readFileSync(certs.caFile);
  const client = { ca, cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) };
  const rogue = { ca, cert: readFileSync(certs.rogueCertFile), key: readFileSync(certs.rogueKeyFile) };
  try {
    const port = t.gateway.httpPort!;
    assert.is(await httpsStatus(port, "/api/v1/sensors", client), 200, "the certificate is the credential");
    assert.is(await httpsStatus(port, "/api/v1/sensors", { ca }), 401, "no certificate, no token");
    assert.is(await httpsStatus(port, "/api/v1/sensors", rogue), 401, "a certificate of another CA");
    assert.is(await httpsStatus(port, "/api/v1/sensors", { ca }, { authorization: `Bearer ${TOKEN}` }), 200, "a token still opens it");
    assert.is(await httpsStatus(port, "/healthz", { ca }), 200);
    await t.publish(await t.device("s-1"), [1]);
  } finally {
    await t.done();
    certs.remove();
  }
});

test.run();
