/*
 * The gateway and the reference cloud over Akka Projection gRPC, both ways:
 * registrations in (EventsBySlices), observations out (ConsumeEvent with
 * ObservationRecorded payloads). The cloud is stopped mid-stream and
 * started again on the same ports; a sensor registers after the restart.
 * Every observation a device got a PUBACK for ends up at the cloud exactly
 * once, with its exact value.
 */
import { test } from "uvu";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import type { CloudObservation } from "../../simulator/cloud/cloud-store.js";
import { FloodingDevice, temperatureOf } from "../support/flooding-device.js";
import { secretOf } from "../support/outbox-gateway.js";
import { registerAtCloud } from "../support/registrations.js";
import { tempDir, waitFor } from "../support/test-helpers.js";

const SENSORS = ["link-1", "link-2"];
const LATE_SENSOR = "link-late";
const WINDOW = 8;
const STEP_MS = 30_000;

function everything(cloud: Cloud): CloudObservation[] {
  const all: CloudObservation[] = [];
  for (let page = cloud.store.after(0, 1000); page.length > 0; page = cloud.store.after(page.at(-1)!.offset, 1000)) all.push(...page);
  return all;
}

async function connectWhenRegistered(device: FloodingDevice, port: number): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    try {
      return await device.connect(port);
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${device.sensorId} was not let in: ${String(e)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

test("relayed to the reference cloud over Akka gRPC; a cloud restart mid-stream loses and duplicates nothing", async () => {
  const dir = tempDir("akka-cloud-link");
  const logger = createMemoryLogger();
  const cloudOptions = { host: "127.0.0.1", dataDir: join(dir.path, "cloud"), logger: logger.child("cloud") };
  let cloud = await startCloud({ credentials: TEST_CREDENTIALS, ...cloudOptions, port: 0, grpcPort: 0 });
  const ports = { port: cloud.port, grpcPort: cloud.grpcPort };
  const gateway = await startGateway({
    mqttPort: 0,
    httpPort: 0,
    dataDir: join(dir.path, "gateway"),
    cloudLink: { transport: "akka-grpc", target: cloud.grpcTarget, payload: "observation", token: GATEWAY_TOKEN },
    registrationLink: { transport: "akka-grpc", target: cloud.grpcTarget, token: GATEWAY_TOKEN },
    relayRetryMaxMs: 1000,
    registrationRetryMaxMs: 1000,
    logger: logger.child("gateway"),
  });
  const devices = SENSORS.map((id) => new FloodingDevice(id, WINDOW));
  try {
    for (const id of SENSORS) await registerAtCloud(cloud.url, id, secretOf(id));
    for (const d of devices) await connectWhenRegistered(d, gateway.mqttPort!);
    await waitFor("observations at the cloud", () => cloud.store.counts().observations >= 40, STEP_MS);

    await cloud.close();
    const acked = () => devices.reduce((n, d) => n + d.acked.size, 0);
    const whileDown = acked();
    await waitFor("PUBACKs while the cloud is down", () => acked() > whileDown + 30, STEP_MS);
    cloud = await startCloud({ credentials: TEST_CREDENTIALS, ...cloudOptions, ...ports });
    await registerAtCloud(cloud.url, LATE_SENSOR, secretOf(LATE_SENSOR));
    const late = new FloodingDevice(LATE_SENSOR, WINDOW);
    devices.push(late);
    await connectWhenRegistered(late, gateway.mqttPort!);
    await waitFor("the late sensor's observations", () => late.acked.size > 20, STEP_MS);

    for (const d of devices) d.stop();
    await waitFor("every publish acknowledged", () => devices.every((d) => d.unacked.size === 0), STEP_MS);
    const total = acked();
    await waitFor("every acknowledged observation at the cloud", () => cloud.store.counts().observations >= total, STEP_MS);
    await waitFor("the relay to be idle", () => gateway.stats().store.unrelayed === 0, STEP_MS);

    const seen = new Map<string, CloudObservation>();
    for (const o of everything(cloud)) {
      const key = `${o.sensorId}#${o.seq}`;
      assert.not.ok(seen.has(key), `${key} stored twice at the cloud`);
      seen.set(key, o);
    }
    for (const d of devices) {
      for (const seq of d.acked) {
        const o = seen.get(`${d.sensorId}#${seq}`);
        assert.ok(o, `${d.sensorId} seq ${seq} acknowledged to the device, missing at the cloud`);
        assert.equal(o.readings.map((r) => [r.quantity, r.value]), [["temperature", temperatureOf(seq)]]);
      }
    }
    assert.is(seen.size, total, "nothing at the cloud that no device published and got acknowledged");
    // The Akka link's own counters, for operators.
    const relay = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/api/v1/relay`)).json() as { link: { acked: number; connected: boolean } };
    assert.ok(relay.link.acked >= total && relay.link.connected, JSON.stringify(relay.link));
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
    assert.match(metrics, /^xsedge_cloud_link_connected 1$/m);
    assert.match(metrics, /^xsedge_cloud_link_acked_total \d+$/m);
    assert.match(metrics, /^xsedge_registration_events_total [1-9]/m);
    assert.ok(total > 150, `${total} observations checked`);
  } finally {
    await Promise.all(devices.map((d) => d.end().catch(() => {})));
    await gateway.close();
    await cloud.close();
    dir.remove();
  }
});

test.run();
