/*
 * Every file the gateway and the cloud create is private to their user,
 * whatever the umask: run here with umask 000, under which node and SQLite
 * would create 0666 and 0644 files. Databases, their WAL and SHM, token
 * files: 0600; directories they create: 0700; a store left 0644 by an older
 * version is tightened at open, and an operator's 0640 (group read) is kept.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { resolveCloudCredentials } from "../../simulator/cloud/credentials.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { openDurableDatabase } from "../../hosts/sqlite/durable-database.js";
import { memoryConnector } from "../support/gateway-fakes.js";
import { tempDir } from "../support/test-helpers.js";

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every file and directory under `dir`, with its mode. */
function modes(dir: string): Map<string, number> {
  return new Map((readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[]).map((name) => [name, mode(join(dir, name))]));
}

test("with umask 000, the cloud's and the gateway's databases, WAL, SHM and token files are 0600, their directories 0700", async () => {
  const dir = tempDir("file-modes");
  const previous = process.umask(0o000);
  try {
    const cloudDir = join(dir.path, "cloud");
    const { credentials } = resolveCloudCredentials({ dataDir: cloudDir, files: {}, env: {} });
    const cloud = await startCloud({ credentials, port: 0, grpcPort: 0, dataDir: cloudDir, logger: createMemoryLogger() });
    const gatewayDir = join(dir.path, "gateway", "nested");
    const gateway = await startGateway({ mqttPort: 0, httpPort: null, dataDir: gatewayDir, connector: memoryConnector(), logger: createMemoryLogger(), registrationUrl: cloud.url });
    const cloudFiles = modes(cloudDir);
    const gatewayFiles = modes(gatewayDir);
    await gateway.close();
    await cloud.close();
    for (const name of ["cloud.db", "cloud.db-wal", "cloud.db-shm", "credentials/admin.token", "credentials/gateway.token"]) assert.is(cloudFiles.get(name), 0o600, `cloud ${name}`);
    assert.is(cloudFiles.get("credentials"), 0o700);
    for (const name of ["observations.db", "observations.db-wal", "observations.db-shm", "registrations.db", "registrations.db-wal", "registrations.db-shm"]) {
      assert.is(gatewayFiles.get(name), 0o600, `gateway ${name}`);
    }
    for (const [name, bits] of [...cloudFiles, ...gatewayFiles]) assert.is(bits & 0o077, 0, `${name} is ${bits.toString(8)}`);
    assert.is(mode(cloudDir), 0o700);
    assert.is(mode(gatewayDir), 0o700);
    assert.is(mode(join(dir.path, "gateway")), 0o700, "parents it creates too");
  } finally {
    process.umask(previous);
    dir.remove();
  }
});

test("a store an older version left 0644 (and its WAL) is tightened to 0600 at open; an operator's 0640 stays", () => {
  const dir = tempDir("file-modes");
  try {
    const loose = join(dir.path, "loose");
    mkdirSync(loose);
    openDurableDatabase(loose, "a.db", ["CREATE TABLE t (x)"]).close();
    for (const name of ["a.db", "a.db-wal"]) {
      writeFileSync(join(loose, name), "", { flag: "a" });
      chmodSync(join(loose, name), 0o644);
    }
    const db = openDurableDatabase(loose, "a.db", ["CREATE TABLE t (x)"]);
    db.prepare("INSERT INTO t VALUES (1)").run();
    assert.is(mode(join(loose, "a.db")), 0o600);
    assert.is(mode(join(loose, "a.db-wal")), 0o600);
    db.close();
    chmodSync(join(loose, "a.db"), 0o640);
    openDurableDatabase(loose, "a.db", ["CREATE TABLE t (x)"]).close();
    assert.is(mode(join(loose, "a.db")), 0o640, "group read, granted by the operator, is kept");
    chmodSync(join(loose, "a.db"), 0o670);
    openDurableDatabase(loose, "a.db", ["CREATE TABLE t (x)"]).close();
    assert.is(mode(join(loose, "a.db")), 0o640, "group write goes, group read stays");
    chmodSync(join(loose, "a.db"), 0o666);
    openDurableDatabase(loose, "a.db", ["CREATE TABLE t (x)"]).close();
    assert.is(mode(join(loose, "a.db")), 0o600, "a file others could read keeps nothing for the group");
  } finally {
    dir.remove();
  }
});

test.run();
