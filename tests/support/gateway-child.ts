/*
 * A gateway in its own process, for tests that kill it (gateway/sigkill).
 * argv: <dataDir> <comma-separated sensor ids> [<cloud gRPC target>].
 * Sensors' secrets are secretOf(sensorId). With a target, the gateway
 * relays to that cloud over Akka gRPC (the reference cloud, in the test's
 * process); without, to a stand-in that acknowledges everything after a
 * short delay, so relaying (and its marks) runs alongside ingest. Prints
 * "ready <port>".
 */
import { GATEWAY_TOKEN } from "./cloud-access.js";
import type { CloudAck, CloudConnector } from "../../hosts/gateway/relay/connector.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { createLogger } from "../../hosts/log/logger.js";
import { registryOf } from "./outbox-gateway.js";

/** Long enough that batches pile up while one is in flight, short enough that the relay keeps up. */
const CLOUD_DELAY_MS = 20;

const slowCloud: CloudConnector = {
  name: "slow",
  async send(batch): Promise<CloudAck> {
    await new Promise((resolve) => setTimeout(resolve, CLOUD_DELAY_MS));
    return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
  },
  async close() {},
};

const [dataDir, sensors, cloudTarget] = process.argv.slice(2);
const gateway = await startGateway({
  mqttPort: 0,
  httpPort: null,
  dataDir,
  // The observation payload carries every field, so the test can check at the cloud what the device sent.
  ...(cloudTarget ? { cloudLink: { transport: "akka-grpc" as const, target: cloudTarget, payload: "observation" as const, token: GATEWAY_TOKEN } } : { connector: slowCloud }),
  registry: registryOf(sensors.split(",")),
  logger: createLogger({ component: "child", level: "error" }),
  rateLimitPerSecond: Infinity,
  relayIntervalMs: 50,
  relayRetryInitialMs: 20,
  relayRetryMaxMs: 200,
});
process.stdout.write(`ready ${gateway.mqttPort!}\n`);
