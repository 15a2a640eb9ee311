/*
 * The gateway's HTTP cloud links over TLS: the observations POST
 * (hosts/gateway/relay/connectors/http.ts) and the registration stream (hosts/gateway/registrations/feed.ts)
 * against a node https server in the test that requires a client
 * certificate from the test CA. The gateway's certificate is accepted; a
 * rogue one, none, or an untrusted server is refused with a clear error.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { createHttpConnector, type CloudRequestError } from "../../hosts/gateway/relay/connectors/http.js";
import { RegistrationFeed } from "../../hosts/gateway/registrations/feed.js";
import { RegistrationProjection } from "../../hosts/gateway/registrations/projection.js";
import { makeTestCertificates } from "../support/test-certificates.js";
import { observation, tempDir, waitFor, within } from "../support/test-helpers.js";

const certs = makeTestCertificates("https");
const SECRET = "registered-secret-1";
/** Who the server saw: the subject of each client certificate it accepted. */
const clients: string[] = [];

const server: Server = createServer({
  cert: readFileSync(certs.serverCertFile),
  key: readFileSync(certs.serverKeyFile),
  ca: readFileSync(certs.caFile),
  requestCert: true,
  rejectUnauthorized: true,
}, (req, res) => {
  clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
  if (req.method === "POST" && req.url === "/api/v1/observations") {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const { observations } = JSON.parse(Buffer.concat(chunks).toString()) as { observations: { sensorId: string; seq: number }[] };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ acked: observations.map(({ sensorId, seq }) => ({ sensorId, seq })) }));
    });
  } else if (req.url === "/api/v1/registrations/stream") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(`id: 1\ndata: ${JSON.stringify({ sensorId: "s-1", secret: SECRET, registeredAt: 1 })}\n\n`);
  } else {
    res.writeHead(404).end();
  }
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
const mutual = { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile };
const batch = [{ ...observation("s-1", 1), receivedAt: 1 }];

async function sendFails(tls: typeof mutual | { caFile?: string } | undefined): Promise<string> {
  const connector = createHttpConnector({ url, tls, timeoutMs: 2000 });
  try {
    const error = await within("send", connector.send(batch).then(() => null, (e: CloudRequestError) => e));
    assert.ok(error, "send must fail");
    return error.message;
  } finally {
    await connector.close();
  }
}

test("observations over mutual TLS: the gateway's client certificate is accepted and the batch acknowledged", async () => {
  const connector = createHttpConnector({ url, tls: mutual });
  try {
    assert.equal((await connector.send(batch)).acked, [{ sensorId: "s-1", seq: 1 }]);
    assert.equal((await connector.send([{ ...observation("s-1", 2), receivedAt: 2 }])).acked, [{ sensorId: "s-1", seq: 2 }]);
    assert.is(clients.at(-1), "client");
  } finally {
    await connector.close();
  }
});

test("observations: a rogue client certificate, or none, is refused by the cloud, and the error says so", async () => {
  const before = clients.length;
  // node's TLS server refuses a certificate from another CA by closing the connection, usually before its alert is read;
  // a missing one with the alert "certificate required". Either way the error says it was the client certificate.
  const refusal = /POST https:.*: (socket hang up \(ECONNRESET\); a cloud that requires a client certificate closes the connection so when it refuses ours|TLS refused by the cloud: tlsv1\d? alert (unknown ca|certificate required))/;
  assert.match(await sendFails({ ...mutual, certFile: certs.rogueCertFile, keyFile: certs.rogueKeyFile }), refusal);
  assert.match(await sendFails({ caFile: certs.caFile }), refusal);
  assert.is(clients.length, before, "the server handled no request from either");
});

test("observations: a server the CA file does not vouch for is refused by the gateway", async () => {
  assert.match(await sendFails(undefined), /POST https:.*: self-signed certificate in certificate chain/);
});

test("TLS files are read when the connector is made; tls with an http:// URL is refused", () => {
  assert.throws(() => createHttpConnector({ url, tls: { caFile: join(certs.dir, "missing.pem") } }), /cloud TLS caFile .*missing\.pem is unreadable/);
  const garbage = join(certs.dir, "garbage.pem");
  writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
  assert.throws(() => createHttpConnector({ url, tls: { caFile: garbage } }), /cloud TLS caFile .*garbage\.pem: no PEM certificate in it/);
  assert.throws(() => createHttpConnector({ url: "http://127.0.0.1:1", tls: mutual }), /tls is set but the URL is http:/);
  assert.throws(() => createHttpConnector({ url: "ftp://127.0.0.1:1" }), /must be http:\/\/ or https:\/\//);
});

function feedWith(dir: string, tls: typeof mutual): { feed: RegistrationFeed; projection: RegistrationProjection } {
  const projection = RegistrationProjection.open(dir);
  const feed = new RegistrationFeed({ url, tls, projection, logger: createMemoryLogger(), retryInitialMs: 50, retryMaxMs: 200 });
  feed.start();
  return { feed, projection };
}

test("registrations over mutual TLS: the stream is followed and the sensor accepted", async () => {
  const dir = tempDir("https-feed");
  const { feed, projection } = feedWith(dir.path, mutual);
  try {
    await waitFor("the registration applied", () => feed.stats().events === 1);
    assert.is(projection.verify("s-1", SECRET), "ok");
    assert.is(feed.stats().connected, true);
  } finally {
    await feed.close();
    projection.close();
    dir.remove();
  }
});

test("registrations: a rogue client certificate is refused, counted as a failed attempt, and named; nothing is applied", async () => {
  const dir = tempDir("https-feed-rogue");
  const { feed, projection } = feedWith(dir.path, { ...mutual, certFile: certs.rogueCertFile, keyFile: certs.rogueKeyFile });
  try {
    await waitFor("a retry", () => feed.stats().reconnects >= 1);
    const stats = feed.stats();
    assert.match(String(stats.lastError), /ECONNRESET.*requires a client certificate|TLS refused by the cloud: tlsv1\d? alert unknown ca/);
    assert.equal([stats.connected, stats.events], [false, 0]);
    assert.is(projection.verify("s-1", SECRET), "unregistered");
  } finally {
    await feed.close();
    projection.close();
    dir.remove();
  }
});

test("registrations: TLS files are read at construction; tls with an http:// URL is refused", () => {
  const dir = tempDir("https-feed-bad");
  const projection = RegistrationProjection.open(dir.path);
  try {
    const make = (u: string, tls: { caFile?: string }) => () => new RegistrationFeed({ url: u, tls, projection, logger: createMemoryLogger() });
    assert.throws(make(url, { caFile: join(certs.dir, "missing.pem") }), /registration TLS caFile .*missing\.pem is unreadable/);
    assert.throws(make("http://127.0.0.1:1", { caFile: certs.caFile }), /registration feed: tls is set but the URL is http:/);
  } finally {
    projection.close();
    dir.remove();
  }
});

test.after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  certs.remove();
});

test.run();
