/*
 * A gateway with rules in its own process, for tests that SIGKILL it
 * (tests/gateway/rules/sigkill-redeploy.test.ts). argv: <dataDir>
 * <comma-separated sensor ids>. The local API listens on an ephemeral port;
 * the cloud acknowledges everything after a short delay. Prints
 * "ready <mqtt port> <http port>".
 */
import type { CloudAck, CloudConnector } from "../../hosts/gateway/relay/connector.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { createLogger } from "../../hosts/log/logger.js";
import { registryOf } from "./outbox-gateway.js";

const cloud: CloudConnector = {
  name: "slow",
  async send(batch): Promise<CloudAck> {
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
  },
  async close() {},
};

const [dataDir, sensors] = process.argv.slice(2);
const gateway = await startGateway({
  mqttPort: 0,
  httpPort: 0,
  dataDir,
  connector: cloud,
  registry: registryOf(sensors.split(",")),
  logger: createLogger({ component: "child", level: "error" }),
  rateLimitPerSecond: Infinity,
  relayIntervalMs: 50,
});
process.stdout.write(`ready ${gateway.mqttPort!} ${gateway.httpPort!}\n`);
