/*
 * The gateway's credential at the reference cloud, through the real links:
 * with a wrong token its observation link (Akka gRPC or HTTP) and its
 * registration stream are refused, counted and shown in the stats, the token
 * never logged, and nothing a device was acknowledged for is lost; the same
 * store started with the right token relays all of it once.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { startGateway, type Gateway, type GatewayOptions } from "../../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { startCloud, type Cloud } from "../../../simulator/cloud/server.js";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../../support/cloud-access.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { loginAs, registerAtCloud, secretFor, untilAccepted } from "../../support/registrations.js";
import { observation, tempDir, waitFor, within } from "../../support/test-helpers.js";

const WRONG_TOKEN = "not-this-clouds-token-0123456789";

async function withCloud(run: (cloud: Cloud, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir("cloud-credentials");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: join(dir.path, "cloud"), logger: createMemoryLogger() });
  try {
    await run(cloud, dir.path);
  } finally {
    await cloud.close();
    dir.remove();
  }
}

function linkOf(cloud: Cloud, transport: "akka-grpc" | "http", token: string): Pick<GatewayOptions, "cloudLink"> {
  return { cloudLink: transport === "http" ? { transport, url: cloud.url, token } : { transport, target: cloud.grpcTarget, token, payload: "observation" } };
}

async function gatewayWith(dataDir: string, options: Partial<GatewayOptions>, logger = createMemoryLogger()): Promise<Gateway> {
  return startGateway({ mqttPort: 0, httpPort: null, dataDir, logger, relayIntervalMs: 50, relayRetryInitialMs: 50, relayRetryMaxMs: 200, ...options });
}

for (const transport of ["akka-grpc", "http"] as const) {
  test(`${transport}: a wrong token is refused and counted; what the devices were acknowledged for waits, and goes once the token is right`, async () => {
    await withCloud(async (cloud, dir) => {
      const registry = new StaticRegistry([{ sensorId: "s-1", secret: secretFor("s-1") }]);
      const logger = createMemoryLogger();
      let gateway = await gatewayWith(join(dir, "gateway"), { ...linkOf(cloud, transport, WRONG_TOKEN), registry }, logger);
      const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", loginAs("s-1"));
      for (let seq = 1; seq <= 3; seq++) await device.puback(device.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", seq))));
      await waitFor("the relay to be refused twice", () => gateway.stats().relay.failures >= 2);
      const { relay } = gateway.stats();
      assert.match(String(relay.lastError), transport === "http" ? /HTTP 401/ : /UNAUTHENTICATED/);
      if (transport === "akka-grpc") assert.ok(((gateway.stats().cloudLink as { refused: number }).refused ?? 0) >= 1, "counted as refused");
      assert.is(gateway.stats().store.unrelayed, 3, "acknowledged observations wait in the outbox");
      assert.is(cloud.store.counts().observations, 0);
      assert.ok(cloud.accessStats().refused.invalid >= 2);
      await device.end();
      await within("gateway close", gateway.close());
      assert.not.ok(JSON.stringify(logger.lines).includes(WRONG_TOKEN), "the token is never logged");

      gateway = await gatewayWith(join(dir, "gateway"), { ...linkOf(cloud, transport, GATEWAY_TOKEN), registry });
      await waitFor("the backlog to reach the cloud", () => gateway.stats().store.unrelayed === 0);
      assert.equal(cloud.store.after(0, 10).map((o) => o.seq), [1, 2, 3], "each once");
      await within("gateway close", gateway.close());
    });
  });

  test(`${transport}: the registration stream refuses a wrong token; the right one brings the registrations`, async () => {
    await withCloud(async (cloud, dir) => {
      await registerAtCloud(cloud.url, "s-1");
      const wrong = await gatewayWith(join(dir, "gateway"), { ...linkOf(cloud, transport, WRONG_TOKEN), registrationRetryInitialMs: 20, registrationRetryMaxMs: 50 });
      await waitFor("a few refused attempts", () => (wrong.stats().registration?.reconnects ?? 0) >= 2);
      assert.match(String(wrong.stats().registration?.lastError), transport === "http" ? /HTTP 401/ : /UNAUTHENTICATED/);
      assert.is(wrong.registry.isRegistered("s-1"), false);
      await within("gateway close", wrong.close());
      const right = await gatewayWith(join(dir, "gateway"), linkOf(cloud, transport, GATEWAY_TOKEN));
      await untilAccepted(right, ["s-1"]);
      await within("gateway close", right.close());
    });
  });
}

test.run();
