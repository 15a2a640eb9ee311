/*
 * TLS on the cloud's gRPC port: with a CA configured, only clients with a
 * certificate it signed get in; the others are refused at the handshake.
 * Also the migrations: a cloud.db of the version before the journal gets
 * its events at open, and its secrets give way to digests, in every file.
 */
import { test } from "uvu";
import { TEST_CREDENTIALS } from "../support/cloud-access.js";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { channelCredentials } from "../../hosts/grpc/tls.js";
import { openDurableDatabase } from "../../hosts/sqlite/durable-database.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { CLOUD_STORE_FILE, MIGRATIONS } from "../../simulator/cloud/cloud-store.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { cloudClients, EventsStream, register } from "../support/cloud-grpc.js";
import { makeTestCertificates } from "../support/test-certificates.js";
import { tempDir } from "../support/test-helpers.js";

test("mutual TLS: a client with a certificate of the CA registers; without one, or with a rogue one, or in plaintext, it is refused", async () => {
  const certs = makeTestCertificates("cloud-grpc-tls");
  const dir = tempDir("cloud-grpc-tls");
  const grpcTls = { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile };
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, grpcTls, dataDir: dir.path, logger: createMemoryLogger() });
  const attempt = async (credentials: grpc.ChannelCredentials) => {
    const clients = cloudClients(cloud.grpcTarget, credentials);
    try {
      return await register(clients, "s-1", "a long secret").then(() => "ok", (e: grpc.ServiceError) => grpc.status[e.code]);
    } finally {
      clients.close();
    }
  };
  try {
    assert.is(await attempt(channelCredentials({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile })), "ok");
    assert.is(await attempt(channelCredentials({ caFile: certs.caFile })), "UNAVAILABLE", "no client certificate");
    assert.is(await attempt(channelCredentials({ caFile: certs.caFile, certFile: certs.rogueCertFile, keyFile: certs.rogueKeyFile })), "UNAVAILABLE", "a certificate of another CA");
    assert.is(await attempt(grpc.credentials.createInsecure()), "UNAVAILABLE", "plaintext");
    assert.is(cloud.store.counts().sensors, 1);
  } finally {
    await cloud.close();
    dir.remove();
    certs.remove();
  }
});

test("a store of the version before the journal gets registration events and observation timestamps at open", async () => {
  const dir = tempDir("cloud-grpc-migrate");
  const old = openDurableDatabase(dir.path, CLOUD_STORE_FILE, MIGRATIONS.slice(0, 2));
  old.prepare("INSERT INTO sensors VALUES ('old-1', 'old secret 1', 1600000000000, 1), ('old-2', 'old secret 2', 1600000000000, 2)").run();
  const insert = old.prepare("INSERT INTO observations (sensor_id, seq, boot, uptime_ms, readings, stored_at) VALUES ('old-1', ?, 1, 0, '[{\"quantity\":\"temperature\",\"value\":20}]', 1600000000000)");
  for (let seq = 1; seq <= 3; seq++) insert.run(seq);
  old.close();
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  const clients = cloudClients(cloud.grpcTarget);
  try {
    const registrations = EventsStream.init(clients, "registration-events");
    await registrations.next(2);
    assert.equal(registrations.pairs(), ["Registration|old-1#1", "Registration|old-2#1"]);
    const observations = EventsStream.init(clients, "temperature-events");
    await observations.next(3);
    assert.equal(observations.pairs(), ["Sensor|old-1#1", "Sensor|old-1#2", "Sensor|old-1#3"]);
    await register(clients, "old-1", "new secret 1");
    await registrations.next(3);
    assert.is(registrations.pairs()[2], "Registration|old-1#2", "a re-registration continues the sensor's seq_nr");
    registrations.close();
    observations.close();
  } finally {
    clients.close();
    await cloud.close();
  }
  const db = new Database(join(dir.path, CLOUD_STORE_FILE), { readonly: true });
  assert.is((db.prepare("SELECT COUNT(*) AS n FROM observations WHERE event_us IS NULL OR slice IS NULL").get() as { n: number }).n, 0);
  const digests = db.prepare("SELECT secret_digest AS d FROM sensors UNION ALL SELECT secret_digest FROM registration_events").all() as { d: string }[];
  assert.ok(digests.length === 5 && digests.every(({ d }) => /^sha256:[0-9a-f]{64}$/.test(d)), "migration 4 keeps digests only");
  db.close();
  for (const file of readdirSync(dir.path)) {
    assert.not.ok(readFileSync(join(dir.path, file)).includes(Buffer.from("old secret")), `${file} still holds a secret in the clear`);
  }
  dir.remove();
});

test.run();
