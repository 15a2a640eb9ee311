/*
 * Registrations from the cloud to the gateway over real loopback HTTP: the
 * reference cloud's registration stream, and the gateway's feed following it
 * (resuming after restarts of either side, skipping bad events).
 */
import { test } from "uvu";
import { GATEWAY_TOKEN, TEST_CREDENTIALS, authHeader } from "../../support/cloud-access.js";
import * as assert from "uvu/assert";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { startCloud, type Cloud } from "../../../simulator/cloud/server.js";
import { SseReader } from "../../support/cloud-sse.js";
import { secretDigestText } from "../../../hosts/auth/secret-digest.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { loginAs, registerAtCloud, untilAccepted } from "../../support/registrations.js";
import { observation, tempDir, waitFor, within } from "../../support/test-helpers.js";

type MemoryLogger = ReturnType<typeof createMemoryLogger>;

function startGatewayOn(dataDir: string, cloudUrl: string, logger: MemoryLogger): Promise<Gateway> {
  return startGateway({
    httpPort: null,
    mqttPort: 0,
    dataDir,
    cloudLink: { transport: "http", url: cloudUrl, token: GATEWAY_TOKEN },
    connector: memoryConnector(),
    logger,
    registrationRetryInitialMs: 50,
    registrationRetryMaxMs: 200,
  });
}

/** Fails the test if any log line or the stats mention one of `secrets`. */
function assertNoSecrets(logger: MemoryLogger, gateway: Gateway, secrets: string[]): void {
  const logs = JSON.stringify(logger.lines);
  const stats = JSON.stringify(gateway.stats());
  for (const secret of secrets) {
    assert.not.ok(logs.includes(secret), `a log line holds secret ${secret}`);
    assert.not.ok(stats.includes(secret), `the stats hold secret ${secret}`);
  }
}

test("the cloud's registration stream: id = offset, a re-registration moves the sensor to a new offset, resume and live events", async () => {
  const dir = tempDir("reg-stream");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  await registerAtCloud(cloud.url, "s-1", "first-secret");
  await registerAtCloud(cloud.url, "s-2", "second-secret");
  await registerAtCloud(cloud.url, "s-1", "replaced-secret");
  const all = await SseReader.open(`${cloud.url}/api/v1/registrations/stream`, authHeader(GATEWAY_TOKEN));
  const events = await all.next(2);
  assert.equal(events.map((e) => e.id), ["2", "3"], "the compacted log: s-1's first registration (offset 1) is gone");
  const [s2, s1] = events.map((e) => JSON.parse(e.data));
  assert.equal([s2.sensorId, s2.secretDigest, s1.sensorId, s1.secretDigest], ["s-2", secretDigestText("second-secret"), "s-1", secretDigestText("replaced-secret")]);
  assert.equal(Object.keys(s1).sort(), ["registeredAt", "secretDigest", "sensorId"], "the digest, never the secret");
  assert.ok(typeof s1.registeredAt === "number");

  const resumed = await SseReader.open(`${cloud.url}/api/v1/registrations/stream`, { ...authHeader(GATEWAY_TOKEN), "last-event-id": "2" });
  assert.equal((await resumed.next(1)).map((e) => e.id), ["3"]);
  const after = await SseReader.open(`${cloud.url}/api/v1/registrations/stream?after=3`, authHeader(GATEWAY_TOKEN));
  await registerAtCloud(cloud.url, "s-3", "third-secret");
  assert.equal((await after.next(1)).map((e) => [e.id, JSON.parse(e.data).sensorId]), [["4", "s-3"]], "live");
  assert.equal((await resumed.next(2)).map((e) => e.id), ["3", "4"]);
  for (const reader of [all, resumed, after]) reader.close();
  await within("cloud close", cloud.close());
  dir.remove();
});

test("the gateway stores registrations and the offset, and after a restart resumes from it without re-applying", async () => {
  const dir = tempDir("reg-feed");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: `${dir.path}/cloud`, logger: createMemoryLogger() });
  await registerAtCloud(cloud.url, "s-1", "first-secret");
  let logger = createMemoryLogger();
  let gateway = await startGatewayOn(`${dir.path}/gateway`, cloud.url, logger);
  await untilAccepted(gateway, ["s-1"], () => "first-secret");
  assert.equal(gateway.stats().registration, { sensors: 1, offset: 1, connected: true, events: 1, badEvents: 0, reconnects: 0, lastError: null });
  await within("gateway close", gateway.close());

  // While the gateway is down: a new sensor, and s-1 gets a new secret.
  await registerAtCloud(cloud.url, "s-2", "second-secret");
  await registerAtCloud(cloud.url, "s-1", "replaced-secret");
  logger = createMemoryLogger();
  gateway = await startGatewayOn(`${dir.path}/gateway`, cloud.url, logger);
  assert.is(gateway.registry.verify("s-1", "first-secret"), "ok", "what was stored is there before the feed reconnects");
  await untilAccepted(gateway, ["s-1", "s-2"], (id) => (id === "s-1" ? "replaced-secret" : "second-secret"));
  assert.is(gateway.registry.verify("s-1", "first-secret"), "bad-secret");
  const { registration } = gateway.stats();
  assert.equal([registration?.events, registration?.offset, registration?.sensors], [2, 3, 2], "only the two new events were applied");
  assert.ok(logger.lines.some((l) => /registration feed connected .* after offset 1$/.test(String(l.msg))));
  assertNoSecrets(logger, gateway, ["first-secret", "second-secret", "replaced-secret"]);
  await within("gateway close", gateway.close());
  await within("cloud close", cloud.close());
  dir.remove();
});

test("a new secret at the cloud ends the session that logged in with the old one (issue 2.2 item 7); the new secret logs in", async () => {
  const dir = tempDir("reg-feed");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: `${dir.path}/cloud`, logger: createMemoryLogger() });
  await registerAtCloud(cloud.url, "s-1", "first-secret");
  await registerAtCloud(cloud.url, "s-2", "second-secret");
  const gateway = await startGatewayOn(`${dir.path}/gateway`, cloud.url, createMemoryLogger());
  await untilAccepted(gateway, ["s-1", "s-2"], (id) => (id === "s-1" ? "first-secret" : "second-secret"));
  const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", loginAs("s-1", "first-secret"));
  const bystander = await TestMqttClient.connect(gateway.mqttPort!, "s-2", loginAs("s-2", "second-secret"));
  await device.puback(device.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", 1))));
  // The same secret again changes nothing: the session stays.
  await registerAtCloud(cloud.url, "s-1", "first-secret");
  await registerAtCloud(cloud.url, "s-1", "replaced-secret");
  await untilAccepted(gateway, ["s-1"], () => "replaced-secret");
  // The gateway drops the session as it adopts the new secret; 1 s bounds the socket's close reaching the device.
  await within("the session with the old secret to be closed", device.closed, 1000);
  assert.is(gateway.stats().mqtt?.revoked, 1);
  await bystander.puback(bystander.publish(uplinkTopic("s-2"), encodeObservation(observation("s-2", 1))));
  assert.ok(bystander.connected, "other sensors' sessions are untouched");
  const stale = await TestMqttClient.attempt(connect(gateway.mqttPort!, "127.0.0.1"), "connect", "s-1", loginAs("s-1", "first-secret"));
  assert.is(stale.returnCode, 4, "the old secret is refused");
  await within("refused connection closed", stale.client.closed);
  const renewed = await TestMqttClient.connect(gateway.mqttPort!, "s-1", loginAs("s-1", "replaced-secret"));
  await renewed.puback(renewed.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", 2))));
  await renewed.end();
  await bystander.end();
  await within("gateway close", gateway.close());
  await within("cloud close", cloud.close());
  dir.remove();
});

test("the feed reconnects with backoff when the cloud stops and starts again, and picks up what was registered since", async () => {
  const dir = tempDir("reg-feed");
  let cloud: Cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: `${dir.path}/cloud`, logger: createMemoryLogger() });
  const port = cloud.port;
  await registerAtCloud(cloud.url, "s-1");
  const logger = createMemoryLogger();
  const gateway = await startGatewayOn(`${dir.path}/gateway`, cloud.url, logger);
  await untilAccepted(gateway, ["s-1"]);
  await within("cloud close", cloud.close());
  await waitFor("the feed to notice", () => gateway.stats().registration?.connected === false);
  await waitFor("a few failed reconnects", () => (gateway.stats().registration?.reconnects ?? 0) >= 2);
  assert.match(String(gateway.stats().registration?.lastError), /ECONNREFUSED|ended|closed/);
  assert.ok(logger.lines.some((l) => l.level === "warn" && /registration feed lost/.test(String(l.msg))));

  cloud = await startCloud({ credentials: TEST_CREDENTIALS, port, grpcPort: 0, dataDir: `${dir.path}/cloud`, logger: createMemoryLogger() });
  await registerAtCloud(cloud.url, "s-2");
  await untilAccepted(gateway, ["s-1", "s-2"]);
  const stats = gateway.stats().registration;
  assert.equal([stats?.connected, stats?.events, stats?.offset], [true, 2, 2]);
  await within("gateway close", gateway.close());
  await within("cloud close", cloud.close());
  dir.remove();
});

test("bad events are counted, logged without their secret, and skipped; the offset moves past them and the feed resumes after it", async () => {
  const requests: IncomingHttpHeaders[] = [];
  let first: ServerResponse | undefined;
  const frames = [
    `id: 1\ndata: ${JSON.stringify({ sensorId: "s-1", secret: "good-secret-one", registeredAt: 1 })}\n\n`,
    `id: 2\ndata: {"sensorId": "s-x", "secret": "broken-json-secret"\n\n`,
    `id: 3\ndata: ${JSON.stringify({ sensorId: "s-3", registeredAt: 1 })}\n\n`,
    `id: 4\ndata: ${JSON.stringify({ sensorId: "s-4", secret: "short12", registeredAt: 1 })}\n\n`,
    `id: 5\ndata: ${JSON.stringify({ sensorId: "s-5", secret: "L".repeat(129), registeredAt: 1 })}\n\n`,
    `id: 6\ndata: ${JSON.stringify({ sensorId: "s-6", secret: "good-secret-six", registeredAt: 1 })}\n\n`,
  ];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (requests.length === 1) {
      first = res;
      res.write(frames.join(""));
    } else {
      res.write(": resumed\n\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const dir = tempDir("reg-feed");
  const logger = createMemoryLogger();
  const gateway = await startGatewayOn(dir.path, url, logger);
  try {
    await waitFor("all six events", () => gateway.stats().registration?.offset === 6);
    const stats = gateway.stats().registration;
    assert.equal([stats?.events, stats?.badEvents, stats?.sensors], [2, 4, 2]);
    assert.is(gateway.registry.verify("s-6", "good-secret-six"), "ok");
    assert.not.ok(gateway.registry.isRegistered("s-4"));
    const skipped = logger.lines.filter((l) => l.level === "warn" && /skipped registration event at offset \d/.test(String(l.msg)));
    assert.equal(skipped.map((l) => l.offset), [2, 3, 4, 5]);
    assert.match(String(skipped[2].msg), /secret of s-4 must be a string of 8 to 128 characters, got 7 characters/);
    assertNoSecrets(logger, gateway, ["good-secret-one", "broken-json-secret", "short12", "LLLLLLLL", "good-secret-six"]);

    first?.end();
    await waitFor("the feed to reconnect", () => requests.length >= 2);
    assert.equal([requests[0]["last-event-id"], requests[1]["last-event-id"]], ["0", "6"], "resumes after the last event, bad or not");
    assert.equal(requests.map((headers) => headers.authorization), [`Bearer ${GATEWAY_TOKEN}`, `Bearer ${GATEWAY_TOKEN}`], "the gateway presents its token each time");
    assertNoSecrets(logger, gateway, [GATEWAY_TOKEN]);
  } finally {
    await within("gateway close", gateway.close());
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    dir.remove();
  }
});

test.run();
