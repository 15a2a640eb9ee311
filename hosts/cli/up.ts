/*
 * `xsedge up` (what `npm start` runs): the whole system on one machine with
 * embedded defaults: the reference cloud, the gateway, and simulated devices
 * on 127.0.0.1, printing each observation as the cloud receives it. Each
 * device is registered at the cloud with a fresh random secret, and starts
 * once the gateway has learnt that secret from the cloud's registration
 * stream (devices refused at CONNECT would only retry). Ctrl-C
 * stops the devices first, then the gateway (which drains its relay), then
 * the cloud.
 *
 * The cloud is closed, as always: its admin and gateway tokens are files in
 * <data-dir>/cloud/credentials/ (created 0600 on the first start, see
 * simulator/cloud/credentials.ts); the gateway is given its token, the
 * registrations are made with the admin's, and the admin file's path is
 * printed for whoever wants to call the cloud's API by hand.
 */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { createLogger } from "../log/logger.js";
import { QUANTITIES } from "../../modules/observation/record.js";
import { unitOf } from "../../modules/observation/observation-json.js";
import { DEFAULT_HTTP_PORT, startGateway, type Gateway } from "../gateway/gateway.js";
import { DEFAULT_CLOUD_GRPC_PORT, DEFAULT_CLOUD_HTTP_PORT, startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { resolveCloudCredentials } from "../../simulator/cloud/credentials.js";
import { bearer } from "../auth/bearer.js";
import type { CloudObservation } from "../../simulator/cloud/cloud-store.js";
import { startFleet, stopFleet } from "../../simulator/fleet.js";
import { oneAddressFleetLimits } from "../gateway/ingest/listener-limits.js";
import { loadApp } from "../../simulator/app/load-app.js";
import { fleetApp } from "../../simulator/app/app-on-fleet.js";
import {
  LOG_OPTIONS, parseFlags, parseInteger, parseLogOptions, parseOrReport, parsePort, processIo, stringFlag, untilStopped, UsageError, type CommandIo,
} from "./command.js";

export const UP_USAGE = `Usage: xsedge up [options]        (npm start)

Starts the reference cloud, the gateway and simulated devices on 127.0.0.1
and prints each observation as the cloud receives it. Ctrl-C stops all.

Options:
  --app <dir>            run the devices with the app of the project in <dir>
                         (made by "xsedge new"; built first), instead of the
                         built-in app
  --no-build             with --app, run its bundle as it is
  --devices <n>          simulated devices (default 3, at most 10,000)
  --period <ms>          their sample period (default 1000; with --app, the app's)
  --batch-age <ms>       how long a device holds samples before logging and
                         sending them as one batch (default 2000 here; 10000 on
                         a board, where it buys flash life)
  --mqtt-port <port>     the gateway's MQTT port (default 1883; 0 for any free one)
  --http-port <port>     the gateway's dashboard and local API (default 8080; 0 for any free one)
  --cloud-port <port>    the cloud's HTTP port (default ${DEFAULT_CLOUD_HTTP_PORT}; 0 for any free one)
  --cloud-grpc-port <port>  the cloud's Akka Projection gRPC port (default ${DEFAULT_CLOUD_GRPC_PORT}; 0 for any free one)
  --data-dir <dir>       where cloud, gateway and devices keep their state (default ./data)
  --trace                also print the devices' trace lines
  --log-level <level>    debug, info, warn or error (default warn)
  --log-format <format>  json or pretty (default pretty)
  -h, --help             show this help
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    app: { type: "string" },
    "no-build": { type: "boolean" },
    devices: { type: "string" },
    period: { type: "string" },
    "batch-age": { type: "string" },
    "mqtt-port": { type: "string" },
    "http-port": { type: "string" },
    "cloud-port": { type: "string" },
    "cloud-grpc-port": { type: "string" },
    "data-dir": { type: "string" },
    trace: { type: "boolean" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  const app = flag("app");
  if (values["no-build"] === true && app === undefined) throw new UsageError("--no-build goes with --app");
  return {
    help: values.help === true,
    app: app === undefined ? undefined : resolve(app),
    build: values["no-build"] !== true,
    devices: parseInteger("--devices", flag("devices") ?? "3", 1, 10_000),
    periodMs: flag("period") === undefined ? undefined : parseInteger("--period", flag("period")!, 10, 86_400_000),
    batchAgeMs: parseInteger("--batch-age", flag("batch-age") ?? "2000", 0, 86_400_000),
    mqttPort: parsePort("--mqtt-port", flag("mqtt-port") ?? "1883"),
    httpPort: parsePort("--http-port", flag("http-port") ?? String(DEFAULT_HTTP_PORT)),
    cloudPort: parsePort("--cloud-port", flag("cloud-port") ?? String(DEFAULT_CLOUD_HTTP_PORT)),
    cloudGrpcPort: parsePort("--cloud-grpc-port", flag("cloud-grpc-port") ?? String(DEFAULT_CLOUD_GRPC_PORT)),
    dataDir: resolve(flag("data-dir") ?? "./data"),
    trace: values.trace === true,
    log: { ...parseLogOptions({ ...values, "log-level": values["log-level"] ?? "warn" }, "pretty") },
  };
}

function describe(observation: CloudObservation): string {
  const time = new Date(observation.time ?? observation.receivedAt ?? observation.storedAt).toISOString().slice(11, 23);
  const values = observation.readings.map((r) => `${r.quantity} ${r.value.toFixed(Math.max(0, -(QUANTITIES[r.quantity]?.exponent ?? -2)))} ${unitOf(r)}`).join(", ");
  const clock = observation.timeSource ? `${observation.timeSource} clock` : "no clock yet";
  return `${time}  ${observation.sensorId.padEnd(6)} seq ${String(observation.seq).padStart(6)}  ${values}  (boot ${observation.boot}, ${clock})\n`;
}

/** How long the gateway may take to learn the registrations: one feed reconnect at most, on loopback. */
const REGISTRATION_WAIT_MS = 15_000;

async function register(cloud: Cloud, adminToken: string, sensorId: string, secret: string): Promise<void> {
  const response = await fetch(`${cloud.url}/api/v1/sensors`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: bearer(adminToken) },
    body: JSON.stringify({ sensorId, secret }),
  });
  if (!response.ok) throw new Error(`registering ${sensorId} failed: HTTP ${response.status} ${await response.text()}`);
}

async function untilGatewayAccepts(gateway: Gateway, secrets: ReadonlyMap<string, string>): Promise<void> {
  const deadline = Date.now() + REGISTRATION_WAIT_MS;
  const pending = () => [...secrets].filter(([id, secret]) => gateway.registry.verify(id, secret) !== "ok").map(([id]) => id);
  while (pending().length > 0) {
    if (Date.now() > deadline) {
      const why = gateway.stats().registration?.lastError;
      throw new Error(`the gateway did not receive the registrations of ${pending().join(", ")} within ${REGISTRATION_WAIT_MS} ms${why ? ` (${why})` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function upCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const options = parseOrReport("up", io, () => parse(argv));
  if (typeof options === "number") return options;
  if (options.help) {
    io.out(UP_USAGE);
    return 0;
  }
  const logger = createLogger({ component: "xsedge", ...options.log, write: (line) => io.err(line + "\n") });
  let cloud: Cloud | undefined;
  let gateway: Gateway | undefined;
  let stopDevices: () => Promise<void> = async () => {};
  let devices = 0;
  const stop = async () => {
    await stopDevices();
    await gateway?.close();
    await cloud?.close();
  };
  let adminTokenFile: string | undefined;
  try {
    const cloudDir = resolve(options.dataDir, "cloud");
    const { credentials, sources } = resolveCloudCredentials({ dataDir: cloudDir, files: {}, env: {} });
    adminTokenFile = sources.find((source) => source.role === "admin")?.path;
    cloud = await startCloud({
      host: "127.0.0.1",
      port: options.cloudPort,
      grpcPort: options.cloudGrpcPort,
      dataDir: cloudDir,
      credentials,
      logger: logger.child("cloud"),
    });
    cloud.onObservation((observation) => io.out(describe(observation)));
    gateway = await startGateway({
      mqttHost: "127.0.0.1",
      mqttPort: options.mqttPort,
      httpPort: options.httpPort,
      dataDir: resolve(options.dataDir, "gateway"),
      // Both links over Akka Projection gRPC, as beside an Akka cloud; our richer payload, which the reference cloud reads.
      cloudLink: { transport: "akka-grpc", target: cloud.grpcTarget, payload: "observation", token: credentials.gatewayTokens[0] },
      registrationLink: { transport: "akka-grpc", target: cloud.grpcTarget, token: credentials.gatewayTokens[0] },
      // Every simulated device connects from 127.0.0.1.
      mqttLimits: oneAddressFleetLimits(options.devices),
      logger: logger.child("gateway"),
    });
    const secrets = new Map(Array.from({ length: options.devices }, (_, i) => [`sim-${i + 1}`, randomBytes(16).toString("hex")]));
    for (const [id, secret] of secrets) await register(cloud, credentials.adminTokens[0], id, secret);
    await untilGatewayAccepts(gateway, secrets);
    const common = {
      count: options.devices,
      gatewayAddress: "127.0.0.1",
      gatewayPort: gateway.mqttPort!,
      idPrefix: "sim",
      secretFor: (id: string) => secrets.get(id),
      dataDir: resolve(options.dataDir, "sim"),
      // Short batches so a person watching sees observations within seconds.
      config: { batchMaxAgeMs: options.batchAgeMs },
      logger: logger.child("sim"),
      onTrace: options.trace ? (id: string, line: string) => io.out(`${id}: ${line}\n`) : undefined,
    };
    // A project's app runs on the fleet engine as the built-in one does: many devices per worker.
    const project = options.app ? fleetApp(await loadApp(options.app, { build: options.build })) : undefined;
    const fleet = await startFleet({ ...common, project, samplePeriodMs: options.periodMs ?? (project ? undefined : 1000) });
    stopDevices = () => stopFleet(fleet);
    devices = fleet.length;
  } catch (error) {
    io.err(`xsedge up: could not start: ${(error as Error).message}\n`);
    await stop();
    return 1;
  }
  const what = options.app ? `running ${options.app}` : `sample every ${options.periodMs ?? 1000} ms`;
  io.out(`cloud http://127.0.0.1:${cloud.port} grpc ${cloud.grpcTarget}  gateway mqtt://127.0.0.1:${gateway.mqttPort!}  ${devices} devices on XS (${what})\n`);
  io.out(`gateway dashboard http://127.0.0.1:${gateway.httpPort}/\n`);
  io.out(`cloud admin token in ${adminTokenFile} (curl -H "authorization: Bearer $(cat ${adminTokenFile})" ${cloud.url}/api/v1/sensors)\n`);
  io.out(`observations as the cloud receives them (Ctrl-C stops):\n`);
  const why = await untilStopped(io.signal);
  io.out(`stopping (${why})...\n`);
  await stopDevices();
  stopDevices = async () => {};
  const { store } = gateway.stats();
  await stop();
  io.out(`stopped: the gateway holds ${store.observations} observations, ${store.unrelayed} not yet relayed to the cloud.\n`);
  return 0;
}
