/*
 * The devices' MQTT-over-TLS listener, with a self-signed certificate made
 * by openssl for 127.0.0.1 in a temporary directory.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { connect as connectTls } from "node:tls";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { peerProgram } from "../../support/peer-programs.js";
import { observation, tempDir, waitFor, within } from "../../support/test-helpers.js";

const dir = tempDir("tls");
const certFile = `${dir.path}/cert.pem`;
const keyFile = `${dir.path}/key.pem`;
execFileSync(peerProgram("openssl"), [
  "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
  "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile,
], { stdio: "ignore" });
const cert = readFileSync(certFile);
const login = { username: "s-1", password: "secret-one-111" };

async function withTlsGateway(run: (gateway: Gateway, logger: ReturnType<typeof createMemoryLogger>) => Promise<void>, caFile?: string): Promise<void> {
  const data = tempDir("tls-data");
  const logger = createMemoryLogger();
  const gateway = await startGateway({
    httpPort: null,
    mqttPort: 0,
    mqttTls: { port: 0, certFile, keyFile, caFile },
    dataDir: data.path,
    connector: memoryConnector(),
    logger,
    registry: new StaticRegistry([{ sensorId: "s-1", secret: login.password }]),
  });
  try {
    await run(gateway, logger);
  } finally {
    await within("gateway close", gateway.close());
    data.remove();
  }
}

test("a device logs in over TLS, trusting the gateway's certificate, and its observation is stored", async () => {
  await withTlsGateway(async (gateway) => {
    assert.ok(gateway.mqttTlsPort !== undefined && gateway.mqttTlsPort !== gateway.mqttPort!);
    const socket = connectTls({ host: "127.0.0.1", port: gateway.mqttTlsPort!, ca: cert });
    const { client, returnCode } = await TestMqttClient.attempt(socket, "secureConnect", "s-1", login);
    assert.is(returnCode, 0);
    await client.puback(client.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", 1))));
    assert.ok(gateway.store.find("s-1", 1));
    await client.end();
  });
});

test("a plain-text MQTT client on the TLS port fails cleanly: closed, counted, logged, and the gateway keeps serving", async () => {
  await withTlsGateway(async (gateway, logger) => {
    const plain = connectTcp(gateway.mqttTlsPort!, "127.0.0.1");
    plain.on("error", () => {});
    const closed = new Promise((resolve) => plain.once("close", resolve));
    const received: Buffer[] = [];
    plain.on("data", (d: Buffer) => received.push(d));
    const { client } = await TestMqttClient.attempt(plain, "connect", "s-1", login).catch(() => ({ client: undefined }));
    assert.is(client, undefined, "no CONNACK over plain text");
    await within("the plain connection to close", closed);
    await waitFor("the failure to be counted", () => gateway.stats().auth.tlsFailed === 1);
    assert.ok(logger.lines.some((l) => l.level === "warn" && /^TLS connection from 127\.0\.0\.1 failed/.test(String(l.msg))));
    // The plain listener and the TLS one both still serve.
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", login);
    await device.end();
    const tls = await TestMqttClient.attempt(connectTls({ host: "127.0.0.1", port: gateway.mqttTlsPort!, ca: cert }), "secureConnect", "s-1", login);
    assert.is(tls.returnCode, 0);
    await tls.client.end();
  });
});

test("with caFile, devices must present a certificate it signed (mutual TLS)", async () => {
  await withTlsGateway(async (gateway) => {
    const withCert = connectTls({ host: "127.0.0.1", port: gateway.mqttTlsPort!, ca: cert, cert, key: readFileSync(keyFile) });
    const ok = await TestMqttClient.attempt(withCert, "secureConnect", "s-1", login);
    assert.is(ok.returnCode, 0);
    await ok.client.end();

    const without = connectTls({ host: "127.0.0.1", port: gateway.mqttTlsPort!, ca: cert });
    without.on("error", () => {});
    const closed = new Promise((resolve) => without.once("close", resolve));
    // TLS 1.3 completes the client's handshake before the server checks its certificate: the refusal comes as a close.
    const attempt = await TestMqttClient.attempt(without, "secureConnect", "s-1", login).catch((e: Error) => e);
    assert.ok(attempt instanceof Error, "no CONNACK without a client certificate");
    await within("the connection to close", closed);
    await waitFor("the failure to be counted", () => gateway.stats().auth.tlsFailed === 1);
  }, certFile);
});

test("an unreadable certificate file stops the start with an error naming it", async () => {
  const data = tempDir("tls-data");
  const missing = `${dir.path}/missing.pem`;
  try {
    await startGateway({ httpPort: null, mqttPort: 0, mqttTls: { port: 0, certFile: missing, keyFile }, dataDir: data.path, connector: memoryConnector(), logger: createMemoryLogger(), registry: new StaticRegistry() });
    assert.unreachable("should not start");
  } catch (e) {
    assert.match((e as Error).message, `mqtt TLS certFile ${missing} is unreadable: ENOENT`);
  }
  try {
    await startGateway({ httpPort: null, mqttPort: 0, mqttTls: { port: 0, certFile: keyFile, keyFile: certFile }, dataDir: data.path, connector: memoryConnector(), logger: createMemoryLogger(), registry: new StaticRegistry() });
    assert.unreachable("should not start");
  } catch (e) {
    assert.match((e as Error).message, /mqtt TLS: .* do not make a usable certificate and key/);
  }
  data.remove();
});

test.after(() => dir.remove());

test.run();
