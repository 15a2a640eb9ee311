/*
 * Credentials on the reference cloud's gRPC port, through real grpc-js
 * clients: every method refuses a call without a token or with a wrong one
 * (UNAUTHENTICATED) and a role that may not (PERMISSION_DENIED), before it
 * does anything; the role that may is served. With client certificates
 * required, a verified certificate is a gateway's credential.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { REGISTERED, unpackAny } from "../../hosts/grpc/payload.js";
import { channelCredentials } from "../../hosts/grpc/tls.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { secretDigestText } from "../../hosts/auth/secret-digest.js";
import { ADMIN_TOKEN, CONSUMER_TOKEN, GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import { cloudClients, ConsumeStream, EventsStream, register, temperatureRead, unary, type Clients } from "../support/cloud-grpc.js";
import { makeTestCertificates } from "../support/test-certificates.js";
import { tempDir } from "../support/test-helpers.js";

const WRONG_TOKEN = "not-a-token-of-this-cloud-42";

async function withCloud(run: (cloud: Cloud, as: (token: string | null) => Clients) => Promise<void>, grpcTls?: Parameters<typeof startCloud>[0]["grpcTls"], credentials?: grpc.ChannelCredentials): Promise<void> {
  const dir = tempDir("cloud-grpc-access");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, grpcTls, dataDir: dir.path, logger: createMemoryLogger("cloud") });
  const opened: Clients[] = [];
  const as = (token: string | null) => {
    const clients = cloudClients(cloud.grpcTarget, credentials ?? grpc.credentials.createInsecure(), token);
    opened.push(clients);
    return clients;
  };
  try {
    await run(cloud, as);
  } finally {
    opened.forEach((clients) => clients.close());
    await cloud.close();
    dir.remove();
  }
}

/** The status code a call ends with ("OK" when it was served). */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  return call().then(() => "OK", (error: grpc.ServiceError) => grpc.status[error.code]);
}

/** EventsBySlices of `streamId`: "OK" once an event arrives, else the status it ended with. */
async function streamOutcome(clients: Clients, streamId: string): Promise<string> {
  const stream = EventsStream.init(clients, streamId);
  try {
    await stream.next(1);
    return "OK";
  } catch {
    return grpc.status[(await stream.ended()).code];
  } finally {
    stream.close();
  }
}

async function consumeOutcome(clients: Clients): Promise<string> {
  const stream = ConsumeStream.open(clients);
  stream.send(temperatureRead("t-1", 1, 21));
  try {
    await stream.waitAcks(1);
    return "OK";
  } catch {
    return grpc.status[(await stream.ended()).code];
  } finally {
    stream.close();
  }
}

test("without a token, or with a wrong one, every method ends UNAUTHENTICATED and changes nothing", async () => {
  await withCloud(async (cloud, as) => {
    await register(as(ADMIN_TOKEN), "s-1", "correct horse battery");
    for (const token of [null, WRONG_TOKEN]) {
      const clients = as(token);
      assert.is(await outcome(() => register(clients, "s-2", "attacker secret")), "UNAUTHENTICATED", `Register, ${token ?? "no token"}`);
      assert.is(await streamOutcome(clients, "registration-events"), "UNAUTHENTICATED");
      assert.is(await streamOutcome(clients, "temperature-events"), "UNAUTHENTICATED");
      assert.is(await consumeOutcome(clients), "UNAUTHENTICATED");
      assert.is(await outcome(() => unary(clients.twin, "GetTemperature", { sensor_entity_id: "t-1" })), "UNAUTHENTICATED");
      const load = { stream_id: "registration-events", persistence_id: "Registration|s-1", seq_nr: 1, replica_info: null };
      assert.is(await outcome(() => unary(clients.producer, "LoadEvent", load)), "UNAUTHENTICATED");
      assert.is(await outcome(() => unary(clients.producer, "EventTimestamp", load)), "UNAUTHENTICATED");
    }
    assert.equal(cloud.store.counts(), { sensors: 1, observations: 0 }, "nothing registered or stored");
    assert.equal(cloud.accessStats().refused, { missing: 7, invalid: 7, forbidden: 0 });
  });
});

test("each role gets what it may and PERMISSION_DENIED for the rest", async () => {
  await withCloud(async (cloud, as) => {
    const [admin, gateway, consumer] = [as(ADMIN_TOKEN), as(GATEWAY_TOKEN), as(CONSUMER_TOKEN)];
    assert.is(await outcome(() => register(gateway, "s-1", "correct horse battery")), "PERMISSION_DENIED", "a gateway may not register");
    assert.is(await outcome(() => register(consumer, "s-1", "correct horse battery")), "PERMISSION_DENIED");
    assert.is(await outcome(() => register(admin, "s-1", "correct horse battery")), "OK");
    assert.is(await consumeOutcome(consumer), "PERMISSION_DENIED", "a consumer may not relay observations");
    assert.is(await consumeOutcome(gateway), "OK");
    assert.is(await streamOutcome(consumer, "registration-events"), "PERMISSION_DENIED", "the secrets' digests are for gateways");
    assert.is(await streamOutcome(consumer, "temperature-events"), "OK");
    assert.is(await streamOutcome(gateway, "registration-events"), "OK");
    const load = { stream_id: "registration-events", persistence_id: "Registration|s-1", seq_nr: 1, replica_info: null };
    assert.is(await outcome(() => unary(consumer.producer, "LoadEvent", load)), "PERMISSION_DENIED");
    assert.is(await outcome(() => unary(consumer.producer, "EventTimestamp", load)), "PERMISSION_DENIED");
    const loaded = await unary<{ event: { payload: { type_url: string; value: Buffer } } }>(gateway.producer, "LoadEvent", load);
    const value = unpackAny<{ secret: { value: string } }>(loaded.event.payload, [REGISTERED]).message.secret.value;
    assert.is(value, secretDigestText("correct horse battery"), "Registered carries the digest, marked sha256:");
    assert.is(await outcome(() => unary(consumer.twin, "GetTemperature", { sensor_entity_id: "t-1" })), "OK");
    assert.equal(cloud.store.counts(), { sensors: 1, observations: 1 });
    assert.is(cloud.accessStats().refused.forbidden, 6);
  });
});

test("with client certificates required, a verified certificate is a gateway's credential; a token still decides when given", async () => {
  const certs = makeTestCertificates("cloud-grpc-access");
  const grpcTls = { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile };
  const withCertificate = channelCredentials({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile });
  try {
    await withCloud(async (cloud, as) => {
      const certified = as(null);
      assert.is(await outcome(() => register(certified, "s-1", "correct horse battery")), "PERMISSION_DENIED", "a certificate is no admin");
      assert.is(await outcome(() => register(as(ADMIN_TOKEN), "s-1", "correct horse battery")), "OK");
      assert.is(await streamOutcome(certified, "registration-events"), "OK");
      assert.is(await consumeOutcome(certified), "OK");
      assert.is(await streamOutcome(as(CONSUMER_TOKEN), "registration-events"), "PERMISSION_DENIED", "the token's role, not the certificate's");
      assert.is(await outcome(() => register(as(WRONG_TOKEN), "s-2", "attacker secret")), "UNAUTHENTICATED", "a wrong token is no fallback to the certificate");
      assert.is(cloud.store.counts().sensors, 1);
    }, grpcTls, withCertificate);
  } finally {
    certs.remove();
  }
});

test("TLS without a CA asks no certificate: a call without a token is refused", async () => {
  const certs = makeTestCertificates("cloud-grpc-access");
  const grpcTls = { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile };
  const withCertificate = channelCredentials({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile });
  try {
    await withCloud(async (_cloud, as) => {
      assert.is(await streamOutcome(as(null), "registration-events"), "UNAUTHENTICATED");
      assert.is(await outcome(() => register(as(ADMIN_TOKEN), "s-1", "correct horse battery")), "OK");
    }, grpcTls, withCertificate);
  } finally {
    certs.remove();
  }
});

test.run();
