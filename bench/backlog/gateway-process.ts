/*
 * A gateway in a process of its own, for the backlog bench: it opens a
 * store that already holds the backlog and relays it to the cloud.
 * argv: <dataDir> <sensor count> <akka-grpc|http> <gRPC target or URL>.
 * The cloud's gateway token comes in XSEDGE_BENCH_CLOUD_TOKEN.
 * Sends {ready}; stats: {unrelayed, cpuMs, rss}.
 */
import { startGateway } from "../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { createLogger } from "../../hosts/log/logger.js";
import { cpuMs, serve } from "./child.js";

const [dataDir, sensors, transport, where] = process.argv.slice(2);
const token = process.env.XSEDGE_BENCH_CLOUD_TOKEN;
const gateway = await startGateway({
  dataDir,
  mqttPort: 0,
  httpPort: null,
  // Every reading goes to the cloud, as over HTTP: the sample's TemperatureRead would carry less.
  cloudLink: transport === "http" ? { transport: "http", url: where, token } : { transport: "akka-grpc", target: where, payload: "observation", token },
  registry: new StaticRegistry(Array.from({ length: Number(sensors) }, (_, i) => ({ sensorId: `backlog-${i + 1}`, secret: "backlog-secret-0123456789" }))),
  logger: createLogger({ component: "bench-gateway", level: "error" }),
});
serve(() => ({ unrelayed: gateway.store.counts().unrelayed, cpuMs: cpuMs(), rss: process.memoryUsage().rss }), () => gateway.close());
process.send!({ ready: true });
