/*
 * Quantities beyond three, end to end: a device's records with a newer
 * standard quantity (co2) and one its app declared (soil_water) go through
 * the gateway (its store and local API) to the reference cloud over Akka
 * gRPC with ObservationRecorded payloads, and come out of the cloud's API by
 * name and unit; a record with a code this gateway does not know is refused
 * with the reason, quarantined, never stored under a guessed name.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { encode } from "cbor-x";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { encodeObservation } from "../../modules/observation/record.js";
import { LAST_QUANTITY_CODE } from "../../modules/observation/quantities.js";
import { TestMqttClient } from "../support/gateway-mqtt-client.js";
import { call } from "../support/cloud-http.js";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import { registerAtCloud, secretFor } from "../support/registrations.js";
import { tempDir, waitFor } from "../support/test-helpers.js";
import { pollFor } from "../support/gateway-api.js";

test("a declared quantity and a new standard one reach the cloud by name and unit; an unknown code is refused with its reason", async () => {
  const dir = tempDir("quantities-e2e");
  const logger = createMemoryLogger();
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, host: "127.0.0.1", port: 0, grpcPort: 0, dataDir: join(dir.path, "cloud"), logger: logger.child("cloud") });
  const gateway = await startGateway({
    mqttPort: 0, httpPort: 0, dataDir: join(dir.path, "gateway"), logger: logger.child("gateway"),
    cloudLink: { transport: "akka-grpc", target: cloud.grpcTarget, payload: "observation", token: GATEWAY_TOKEN },
    registrationLink: { transport: "akka-grpc", target: cloud.grpcTarget, token: GATEWAY_TOKEN },
  });
  let device: TestMqttClient | undefined;
  try {
    await registerAtCloud(cloud.url, "field-1");
    device = await pollFor("the gateway to learn the registration", async () => {
      try {
        return await TestMqttClient.connect(gateway.mqttPort!, "field-1", { username: "field-1", password: secretFor("field-1") });
      } catch {
        return undefined;
      }
    }, 15_000);
    const record = encodeObservation({
      sensorId: "field-1", seq: 1, boot: 1, uptimeMs: 500,
      readings: [{ quantity: "co2", value: 412 }, { quantity: "soil_water", value: 0.413, unit: "/", exponent: -3 }],
    });
    await device.puback(device.publish(uplinkTopic("field-1"), record));
    const unknown = new Uint8Array(encode([1, "field-1", 2, 1, 600, LAST_QUANTITY_CODE + 7, 5]));
    await device.puback(device.publish(uplinkTopic("field-1"), unknown));

    const expected = [{ quantity: "co2", unit: "ppm", value: 412 }, { quantity: "soil_water", unit: "/", value: 0.413 }];
    const atGateway = await call(`http://127.0.0.1:${gateway.httpPort}`, "GET", "/api/v1/observations?sensorId=field-1");
    assert.equal((atGateway.body.observations as Array<{ readings: unknown }>).map((o) => o.readings), [expected]);
    await waitFor("the observation at the cloud", () => cloud.store.counts().observations === 1, 15_000);
    const atCloud = await call(cloud.url, "GET", "/api/v1/observations");
    assert.equal((atCloud.body.observations as Array<{ seq: number; readings: unknown }>).map((o) => [o.seq, o.readings]), [[1, expected]]);

    const [refused] = gateway.store.rejected(10);
    assert.equal([refused.reason, refused.field], ["malformed", "readings[0].quantity"]);
    assert.match(refused.detail, new RegExp(`unknown quantity code ${LAST_QUANTITY_CODE + 7} \\(this receiver knows codes 1 to ${LAST_QUANTITY_CODE}`));
    assert.is(gateway.store.find("field-1", 2), undefined, "never stored under a guessed name");
  } finally {
    await device?.end();
    await gateway.close();
    await cloud.close();
    dir.remove();
  }
});

test.run();
