/*
 * The reference cloud in a process of its own, for the backlog bench.
 * argv: <dataDir>. Sends {ready, url, grpcTarget, gatewayToken}; stats: {observations, cpuMs, duplicates}.
 * Its gateway token is made here, for this run only.
 */
import { randomBytes } from "node:crypto";
import { createLogger } from "../../hosts/log/logger.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { cpuMs, serve } from "./child.js";

const [dataDir] = process.argv.slice(2);
const gatewayToken = randomBytes(24).toString("hex");
const credentials = { adminTokens: [randomBytes(24).toString("hex")], gatewayTokens: [gatewayToken], consumerTokens: [] };
const cloud = await startCloud({ credentials, port: 0, grpcPort: 0, dataDir, logger: createLogger({ component: "bench-cloud", level: "error" }) });
serve(() => ({ observations: cloud.store.counts().observations, cpuMs: cpuMs(), duplicates: cloud.grpcStats().duplicates }), () => cloud.close());
process.send!({ ready: true, url: cloud.url, grpcTarget: cloud.grpcTarget, gatewayToken });
