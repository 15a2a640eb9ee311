/*
 * The whole path on real components: simulated devices running the device
 * bundle on XS → their own MQTT bytes over loopback TCP → the gateway's
 * aedes broker → SQLite → relay over Akka Projection gRPC (ConsumeEvent,
 * ObservationRecorded payloads) → the reference cloud's SQLite; the devices
 * registered at the cloud and log in with the secrets the gateway learnt
 * from the cloud's registration events (EventsBySlices), as `npm start` runs.
 */
import { test } from "uvu";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { startCloud } from "../../simulator/cloud/server.js";
import type { CloudObservation } from "../../simulator/cloud/cloud-store.js";
import { startFleet, stopFleet } from "../../simulator/fleet.js";
import { waitFor } from "../support/test-helpers.js";
import { registerAtCloud, secretFor, untilAccepted } from "../support/registrations.js";

test("observations from simulated XS devices reach the cloud with id, sequence, time and value intact", async () => {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-e2e-"));
  const logger = createMemoryLogger();
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, host: "127.0.0.1", port: 0, grpcPort: 0, dataDir: join(dir, "cloud"), logger });
  const gateway = await startGateway({ mqttHost: "127.0.0.1", mqttPort: 0, httpPort: null, dataDir: join(dir, "gateway"), logger, relayIntervalMs: 20,
    cloudLink: { transport: "akka-grpc", target: cloud.grpcTarget, payload: "observation", token: GATEWAY_TOKEN },
    registrationLink: { transport: "akka-grpc", target: cloud.grpcTarget, token: GATEWAY_TOKEN },
  });
  const received: CloudObservation[] = [];
  cloud.onObservation((o) => received.push(o));
  // Devices log in with the secrets they registered at the cloud, once the gateway's feed has them.
  for (const id of ["e2e-1", "e2e-2"]) await registerAtCloud(cloud.url, id);
  await untilAccepted(gateway, ["e2e-1", "e2e-2"]);
  const traced = new Map<string, string[]>();
  const fleet = await startFleet({
    count: 2,
    gatewayAddress: "127.0.0.1",
    gatewayPort: gateway.mqttPort!,
    samplePeriodMs: 50,
    config: { batchMaxAgeMs: 100 },
    idPrefix: "e2e",
    secretFor,
    logger,
    onTrace: (id, line) => traced.set(id, [...(traced.get(id) ?? []), line]),
  });
  try {
    await waitFor("three observations per device at the cloud", () =>
      ["e2e-1", "e2e-2"].every((id) => received.filter((o) => o.sensorId === id).length >= 3), 10_000);
    for (const id of ["e2e-1", "e2e-2"]) {
      const atCloud = received.filter((o) => o.sensorId === id).sort((a, b) => a.seq - b.seq);
      assert.equal(atCloud.slice(0, 3).map((o) => o.seq), [1, 2, 3], `${id} sequence`);
      // What the device traced is what the cloud holds: same sequence, same value to the record's resolution.
      for (const o of atCloud.slice(0, 3)) {
        const line = traced.get(id)!.find((l) => l.startsWith(`observation seq=${o.seq} `))!;
        const traced_ = Number(/temperature=(-?[\d.]+)/.exec(line)![1]);
        assert.is(o.readings[0].quantity, "temperature");
        assert.ok(Math.abs(o.readings[0].value - traced_) < 0.0051, `${id} seq ${o.seq}: cloud ${o.readings[0].value}, device ${traced_}`);
        assert.is(o.boot, 1);
        assert.ok(o.time !== null && Math.abs(o.time - Date.now()) < 60_000, "device wall time");
        assert.is(o.timeSource, "device");
        assert.ok(o.uptimeMs >= 0);
      }
    }
    // The gateway committed each one before acknowledging: its store holds at least what the cloud has.
    const { ingest, store } = gateway.stats();
    assert.ok(store.observations >= received.length, `gateway ${store.observations}, cloud ${received.length}`);
    assert.is(ingest.refused, 0);
    assert.is(ingest.failed, 0);
    const { auth } = gateway.stats();
    assert.ok(auth.accepted >= 2, "both devices logged in");
    assert.equal([auth.unregistered, auth.badSecret, auth.wrongSensor], [0, 0, 0]);
  } finally {
    await stopFleet(fleet);
    await gateway.close();
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
