/*
 * The MQTT cloud connector over TLS to a real mosquitto that requires client
 * certificates (mutual TLS): the gateway's certificate is accepted, one from
 * another CA is refused, as is a broker the CA file does not vouch for; TLS
 * files are checked when the connector is made.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { createMqttConnector, type MqttConnector } from "../../../hosts/gateway/relay/connectors/mqtt.js";
import { Mosquitto } from "../../support/mosquitto.js";
import { ObservationSubscriber } from "../../support/mqtt-subscriber.js";
import { makeTestCertificates } from "../../support/test-certificates.js";
import { observation, waitFor, within } from "../../support/test-helpers.js";

const certs = makeTestCertificates("mqtt-tls");
const UPSTREAM = { username: "gw-1", password: "gateway-secret-1" };
const READER = { username: "cloud-reader", password: "reader-secret-1" };
const mosquitto = await Mosquitto.start([UPSTREAM, READER], [
  `user ${UPSTREAM.username}`, "topic write xsedge/v1/gw-1/observations/#",
  `user ${READER.username}`, "topic read xsedge/v1/+/observations/#",
].join("\n"), { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile, requireCertificate: true });

const batch = [{ ...observation("s-1", 1), receivedAt: 1 }];

async function withConnector(tls: { caFile?: string; certFile?: string; keyFile?: string }, run: (connector: MqttConnector) => Promise<void>): Promise<void> {
  const connector = createMqttConnector({
    url: mosquitto.tlsUrl, clientId: "gw-1", ...UPSTREAM, tls, logger: createMemoryLogger(), retryInitialMs: 50, retryMaxMs: 200, connectTimeoutMs: 2000,
  });
  try {
    await run(connector);
  } finally {
    await within("connector close", connector.close());
  }
}

async function refused(connector: MqttConnector): Promise<string> {
  await waitFor("a refused attempt", () => connector.stats().connectFailures >= 1);
  assert.is(connector.stats().connected, false);
  const error = await connector.send(batch).then(() => null, (e: Error) => e);
  assert.ok(error, "send fails");
  assert.is(connector.stats().published, 0);
  return String(connector.stats().lastError);
}

test("mutual TLS: with the CA and the gateway's client certificate, observations are delivered", async () => {
  const subscriber = await ObservationSubscriber.connect(mosquitto.url, "tls-reader", READER.username, READER.password, "xsedge/v1/+/observations/#");
  try {
    await withConnector({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }, async (connector) => {
      await waitFor("connected over TLS", () => connector.stats().connected);
      assert.equal((await connector.send(batch)).acked, [{ sensorId: "s-1", seq: 1 }]);
      await waitFor("the observation at the cloud", () => subscriber.unique.has("s-1/1"));
    });
  } finally {
    await subscriber.close();
  }
});

test("a client certificate from another CA is refused by the broker, and the failure is counted and named", async () => {
  await withConnector({ caFile: certs.caFile, certFile: certs.rogueCertFile, keyFile: certs.rogueKeyFile }, async (connector) => {
    const reason = await refused(connector);
    assert.match(reason, /cannot connect to mqtts:\/\/127\.0\.0\.1:\d+\/?: TLS refused by the broker: tlsv1 alert unknown ca/);
  });
});

test("no client certificate: refused by a broker that requires one", async () => {
  await withConnector({ caFile: certs.caFile }, async (connector) => {
    assert.match(await refused(connector), /cannot connect to mqtts:.*TLS refused by the broker: .*alert certificate required/);
  });
});

test("a broker certificate the CA file does not vouch for is refused by the gateway, naming why", async () => {
  await withConnector({ caFile: certs.rogueCertFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }, async (connector) => {
    assert.match(await refused(connector), /cannot connect to mqtts:.*self-signed certificate in certificate chain/);
  });
});

test("TLS files are read when the connector is made: a missing or broken one is named", () => {
  const make = (tls: { caFile?: string; certFile?: string; keyFile?: string }) => () =>
    createMqttConnector({ url: mosquitto.tlsUrl, clientId: "gw-1", tls, logger: createMemoryLogger() });
  assert.throws(make({ caFile: join(certs.dir, "missing.pem") }), /mqtt cloud TLS caFile .*missing\.pem is unreadable/);
  const garbage = join(certs.dir, "garbage.pem");
  writeFileSync(garbage, "not a certificate\n");
  assert.throws(make({ caFile: certs.caFile, certFile: garbage, keyFile: certs.clientKeyFile }), /mqtt cloud TLS certFile\/keyFile .*garbage\.pem/);
  assert.throws(make({ certFile: certs.clientCertFile }), /certFile and keyFile go together/);
});

test.after(async () => {
  await mosquitto.remove();
  certs.remove();
});

test.run();
