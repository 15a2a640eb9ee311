/*
 * The gateway killed with SIGKILL again and again under load, relaying to
 * the reference cloud over Akka gRPC meanwhile. Devices keep publishes in
 * flight and resend what was not acknowledged after each restart, as a
 * device's flash log would. Checked at the gateway (every acknowledged
 * observation stored once, as sent) and at the cloud, once a last run has
 * drained the outbox: every acknowledged observation arrived, each handed
 * to the cloud's consumer exactly once (the gateway's resends of what a kill
 * left unmarked are acknowledged there as duplicates, not stored again),
 * with the content the device sent, and nothing the devices never sent.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { TEST_CREDENTIALS } from "../support/cloud-access.js";
import { FloodingDevice, temperatureOf } from "../support/flooding-device.js";
import { tempDir, waitFor, within } from "../support/test-helpers.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "..", "support", "gateway-child.js");
const SENSORS = ["s-1", "s-2", "s-3", "s-4"];
const KILLS = 6;
/** QoS 1 publishes each device keeps in flight: enough that kills land between commit and PUBACK. */
const WINDOW = 32;

async function startChild(dataDir: string, cloudTarget: string): Promise<{ child: ChildProcess; port: number; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [CHILD, dataDir, SENSORS.join(","), cloudTarget], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const port = await within(
    "the gateway child to be ready",
    new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk) => {
        out += chunk;
        const match = /ready (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`gateway child exited (${code}) before it was ready`)));
    }),
    10_000,
  );
  return { child, port, exited };
}

test("SIGKILL at random moments under load: no acknowledged observation lost, none stored twice, none delivered twice to the cloud's consumer", async () => {
  const dir = tempDir("sigkill");
  const cloudDir = tempDir("sigkill-cloud");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: cloudDir.path, logger: createMemoryLogger("cloud") });
  /** What the cloud handed on, per key: how often, and the last copy. */
  const atCloud = new Map<string, { count: number; uptimeMs: number; readings: unknown }>();
  cloud.onObservation((o) => {
    const key = `${o.sensorId}#${o.seq}`;
    const seen = atCloud.get(key);
    atCloud.set(key, { count: (seen?.count ?? 0) + 1, uptimeMs: o.uptimeMs, readings: o.readings.map(({ quantity, value }) => ({ quantity, value })) });
  });
  const devices = SENSORS.map((s) => new FloodingDevice(s, WINDOW));
  const moments: number[] = [];
  const context = () => `kills after ${moments.join(", ")} ms`;
  try {
    for (let round = 0; round < KILLS; round++) {
      const { child, port, exited } = await startChild(dir.path, cloud.grpcTarget);
      await Promise.all(devices.map((d) => d.connect(port)));
      const before = devices.reduce((n, d) => n + d.acked.size, 0);
      await waitFor("acknowledgements this round", () => devices.reduce((n, d) => n + d.acked.size, 0) > before + 50, 10_000);
      const moment = Math.floor(Math.random() * 150);
      moments.push(moment);
      await new Promise((resolve) => setTimeout(resolve, moment));
      child.kill("SIGKILL");
      await within("the child to die", exited);
      await within("the devices to see it", Promise.all(devices.map((d) => d.closed())));
    }

    // A last run without a kill: the devices resend what is unacknowledged, the relay drains the outbox.
    const last = await startChild(dir.path, cloud.grpcTarget);
    for (const d of devices) d.stop();
    await Promise.all(devices.map((d) => d.connect(last.port)));
    await waitFor("every device's publishes acknowledged", () => devices.every((d) => d.unacked.size === 0), 10_000);
    const acked = devices.flatMap((d) => [...d.acked].map((seq) => ({ sensorId: d.sensorId, seq })));
    await waitFor("every acknowledged observation at the cloud", () => acked.every(({ sensorId, seq }) => atCloud.has(`${sensorId}#${seq}`)), 20_000);
    await Promise.all(devices.map((d) => d.end()));
    last.child.kill("SIGTERM");
    await within("the last child to stop", last.exited, 20_000);

    const db = new Database(join(dir.path, "observations.db"), { readonly: true });
    const row = db.prepare<[string, number], { n: number; uptime_ms: number; readings: string }>(
      "SELECT COUNT(*) AS n, uptime_ms, readings FROM observations WHERE sensor_id = ? AND seq = ?",
    );
    for (const { sensorId, seq } of acked) {
      const found = row.get(sensorId, seq)!;
      assert.is(found.n, 1, `${sensorId} seq ${seq}: acknowledged, stored ${found.n} times at the gateway (${context()})`);
      assert.is(found.uptime_ms, seq * 1000);
      assert.equal(JSON.parse(found.readings), [{ quantity: "temperature", value: temperatureOf(seq) }]);
      const delivered = atCloud.get(`${sensorId}#${seq}`)!;
      assert.is(delivered.count, 1, `${sensorId} seq ${seq}: handed to the cloud's consumer ${delivered.count} times (${context()})`);
      assert.is(delivered.uptimeMs, seq * 1000);
      assert.equal(delivered.readings, [{ quantity: "temperature", value: temperatureOf(seq) }]);
    }
    db.close();
    const published = new Set(devices.flatMap((d) => Array.from({ length: d.published }, (_, i) => `${d.sensorId}#${i + 1}`)));
    for (const [key, seen] of atCloud) {
      assert.ok(published.has(key), `${key} reached the cloud but was never published`);
      assert.is(seen.count, 1, `${key} handed to the cloud's consumer ${seen.count} times`);
    }
    assert.is(cloud.store.counts().observations, atCloud.size, "the cloud stores each once");
    assert.ok(acked.length > KILLS * 50, `${acked.length} acknowledged observations checked`);
    const stats = cloud.grpcStats();
    console.log(`  ${acked.length} acknowledged, ${atCloud.size} at the cloud, ${stats.duplicates} resends acknowledged as duplicates there (${context()})`);
  } finally {
    await cloud.close();
    dir.remove();
    cloudDir.remove();
  }
});

test.run();
