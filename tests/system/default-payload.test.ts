/*
 * The README's cloud + gateway, run as it shows them (`xsedge gateway
 * --cloud-target` beside the reference cloud, no payload chosen): what a
 * device measured reaches the cloud whole, every reading at its resolution
 * with boot and uptime. The Akka sample's whole-degree payload is a choice
 * the operator makes, and the gateway says at start what it drops.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { gatewayCommand } from "../../hosts/gateway/cli.js";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { encodeObservation } from "../../modules/observation/record.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import { TestMqttClient } from "../support/gateway-mqtt-client.js";
import { loginAs, registerAtCloud } from "../support/registrations.js";
import { tempDir, waitFor, within } from "../support/test-helpers.js";

/** Runs `xsedge gateway` in this process until the returned stop() is called. */
function runGateway(argv: string[]) {
  const abort = new AbortController();
  let err = "";
  const exit = gatewayCommand(argv, { out: () => {}, err: (text) => (err += text), signal: abort.signal }, { XSEDGE_GATEWAY_CLOUD_TOKEN: GATEWAY_TOKEN });
  return {
    get err() {
      return err;
    },
    exit,
    async stop(): Promise<number> {
      abort.abort();
      return within("the gateway to stop", exit);
    },
  };
}

async function connectWhenRegistered(port: number, sensorId: string): Promise<TestMqttClient> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await TestMqttClient.connect(port, sensorId, loginAs(sensorId));
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${sensorId} was not let in: ${String(e)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

test("by default the reference cloud gets every reading exactly, with boot and uptime; the sample's temperature payload is explicit and says what it drops", async () => {
  const dir = tempDir("default-payload");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, host: "127.0.0.1", port: 0, grpcPort: 0, dataDir: join(dir.path, "cloud"), logger: createMemoryLogger("cloud") });
  const common = ["--mqtt-port", "0", "--http-port", "off", "--cloud-target", cloud.grpcTarget, "--log-format", "json"];
  let gateway = runGateway(["--data-dir", join(dir.path, "gateway"), ...common]);
  try {
    const port = Number((await waitFor("the MQTT port in the log", () => /mqtt listening on 127\.0\.0\.1:(\d+)/.exec(gateway.err)))[1]);
    await registerAtCloud(cloud.url, "precise-1");
    const device = await connectWhenRegistered(port, "precise-1");
    const readings = [{ quantity: "temperature", value: 21.37 }, { quantity: "humidity", value: 40.5 }, { quantity: "pressure", value: 101_325 }] as const;
    await device.puback(device.publish(uplinkTopic("precise-1"), encodeObservation({ sensorId: "precise-1", seq: 1, boot: 3, uptimeMs: 45_678, readings: [...readings] })));
    await device.end();
    const stored = await waitFor("the observation at the cloud", () => cloud.store.after(0, 10)[0]);
    assert.equal(stored.readings.map((r) => [r.quantity, r.value]), readings.map((r) => [r.quantity, r.value]));
    assert.equal([stored.boot, stored.uptimeMs], [3, 45_678]);
    assert.not.ok(/sends whole °C only/.test(gateway.err), "no data-loss warning by default");
    assert.is(await gateway.stop(), 0);

    gateway = runGateway(["--data-dir", join(dir.path, "gateway-2"), ...common, "--cloud-akka-payload", "temperature"]);
    await waitFor("the gateway to start", () => /gateway started/.test(gateway.err));
    const warning = gateway.err.split("\n").find((line) => /sends whole °C only/.test(line));
    assert.ok(warning, gateway.err);
    const { level, msg } = JSON.parse(warning!);
    assert.is(level, "warn");
    assert.match(msg, /drops the fraction of each temperature, every humidity and pressure reading .*boot, uptime and the device's wall time/);
  } finally {
    await gateway.stop().catch(() => {});
    await cloud.close();
    dir.remove();
  }
});

test.run();
