/*
 * A gateway in its own process for the full-disk test, which runs it under
 * a file-size limit (`ulimit -f`): every write past it fails as a full disk
 * would, through the real SQLite store. argv: <dataDir> <comma-separated
 * sensor ids> (secrets: secretOf(sensorId)). The cloud acknowledges
 * everything. Logs JSON lines to stderr; prints "ready <mqtt port> <http port>".
 */
import type { CloudAck, CloudConnector } from "../../hosts/gateway/relay/connector.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { createLogger } from "../../hosts/log/logger.js";
import { registryOf } from "./outbox-gateway.js";

const cloud: CloudConnector = {
  name: "acking",
  async send(batch): Promise<CloudAck> {
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
  logger: createLogger({ component: "gateway", level: "info" }),
  rateLimitPerSecond: Infinity,
  relayIntervalMs: 50,
});
process.stdout.write(`ready ${gateway.mqttPort!} ${gateway.httpPort!}\n`);
process.once("SIGTERM", () => void gateway.close().then(() => process.exit(0)));
