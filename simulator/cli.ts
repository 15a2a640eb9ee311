/*
 * `xsedge sim`: runs simulated devices (the real device bundle on XS) against
 * a gateway until SIGINT or SIGTERM. A gateway lets in only devices
 * registered at its cloud, with their secrets: `--cloud` registers the
 * simulated devices there first, `--devices-file` gives the ids and secrets
 * of devices registered some other way; either way, every refused login is
 * reported with its CONNACK code and counted.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, stringFlag, parseInteger, parseLogOptions, parsePort, processIo, runService, UsageError, type CommandIo,
} from "../hosts/cli/command.js";
import { parseDevicesFile, type DeviceCredentials } from "./devices-file.js";
import { fleetEngine, startFleet, stopFleet } from "./fleet.js";
import { MAX_DEVICES_PER_WORKER } from "./fleet/fleet-engine.js";
import { loadApp } from "./app/load-app.js";
import { fleetApp } from "./app/app-on-fleet.js";
import { LoginTally, type LoginEvent } from "./login-report.js";
import { createRegistrar, parseCloudAddress } from "./registrar.js";
import { scenarioRunCommand } from "./scenario/run-command.js";
import { startUiServer, type UiServer } from "./ui/ui-server.js";

/** Where a token for --cloud may come from instead of the command line (which `ps` shows every user). */
export const CLOUD_TOKEN_ENV = "XSEDGE_CLOUD_TOKEN";
/** The web UI's port unless told: beside the gateway's dashboard on 8080. */
export const DEFAULT_UI_PORT = 8090;

/** A fleet of this size takes about 10 GB and, at one sample a second, more than two cores (see npm run bench). */
const MAX_DEVICES = 20_000;
/** A devices file larger than this is not a list of devices. */
const MAX_DEVICES_FILE_BYTES = 1024 * 1024;
/** Login changes are summed up in one line at most this often. */
const SUMMARY_INTERVAL_MS = 2000;
/** How often the fleet's cost is logged. */
const COST_LOG_MS = 30_000;

export const SIM_USAGE = `Usage: xsedge sim [options]
       xsedge sim run <scenario file> [options]   (see xsedge sim run --help)

Runs simulated devices against a gateway: each a device app on the real XS
engine, sampling and publishing over MQTT, one TCP connection each. By
default the built-in app's bundle (build/moddable/main.js, the file a board
is flashed with), many devices per xsnap-worker, each in its own Compartment
with its own clock, flash, preferences, sensor part (TMP117, SHT3x and BME280
in turn) and socket; with --app, the app of a project made by "xsedge new":
built (its tsc, then its bundle) and run the same way, many devices per
worker, with the register and value models of its simulator models (and the
Moddable SDK's JavaScript drivers it imports, where $MODDABLE has them). A gateway lets in registered devices only: use
--cloud or --devices-file (or provision secrets in each device's preferences
under --data-dir). Every refused login is reported with its CONNACK code and
counted. Every 30 s it logs the memory per device and the CPU per
device-second. Every device connects from this machine's address, and a
gateway holds at most 256 connections from one address (64 not yet logged
in): past a few hundred devices, raise the gateway's
mqtt.maxConnectionsPerAddress and mqtt.maxUnauthenticatedPerAddress (and
mqtt.maxConnections, 2,000) to the fleet's size (xsedge up and the gateway
xsedge sim run spawns do).

Options:
  --app <dir>            run the app of the project in <dir>
  --no-build             with --app, run its bundle as it is, without building
  --devices <n>          how many devices (default 3, at most ${MAX_DEVICES})
  --gateway <addr:port>  the gateway's MQTT address (default 127.0.0.1:1883)
  --period <ms>          sample period (default 1000; with --app, the app's)
  --id-prefix <prefix>   sensor ids are <prefix>-1, <prefix>-2, ... (default sim)
  --bundle <file>        the app bundle every device runs: one ES module of
                         build/moddable/main.js's form (default that file)
  --workers <n>          xsnap-workers to run them in (default: one per core,
                         more for large fleets: at most ${MAX_DEVICES_PER_WORKER} devices each)
  --cloud <address>      register the devices there first, each with a fresh
                         secret: http(s)://host:port for the reference cloud's
                         HTTP API, host:port for Akka gRPC RegistrationService
  --cloud-token <token>  sent as "authorization: Bearer <token>" to --cloud
                         (better: the ${CLOUD_TOKEN_ENV} variable, which ps does not show)
  --devices-file <file>  the devices' ids and secrets, one "<sensorId> <secret>"
                         per line (# comments); instead of --devices and --id-prefix
  --data-dir <dir>       where devices keep their preferences and flash (default ./data/sim)
  --ui-port <port>       the web UI on 127.0.0.1: the fleet, each device's state,
                         flash and last values, charts, and controls to cut a
                         device's power or network (default ${DEFAULT_UI_PORT}; 0 any free
                         port; off: none). Its address, with the token its API
                         takes, is logged at start.
  --trace                print each device's trace lines
  --log-level <level>    debug, info, warn or error (default info)
  --log-format <format>  json or pretty (default pretty)
  -h, --help             show this help
`;

function parseGateway(value: string): { address: string; port: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(value);
  if (!match) throw new UsageError(`--gateway must be <IPv4 address>:<port>, got "${value}"`);
  return { address: match[1], port: parsePort("--gateway", match[2]) };
}

function readDevicesFile(path: string): DeviceCredentials[] {
  let text: string;
  try {
    if (statSync(path).size > MAX_DEVICES_FILE_BYTES) throw new UsageError(`--devices-file ${path} is larger than ${MAX_DEVICES_FILE_BYTES} bytes`);
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--devices-file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parsed = parseDevicesFile(path, text);
  if (!parsed.ok) throw new UsageError(parsed.errors.length === 1 ? parsed.errors[0] : `${parsed.errors.length} errors in --devices-file:\n  ${parsed.errors.join("\n  ")}`);
  return parsed.devices;
}

function parse(argv: string[], env: Readonly<Record<string, string | undefined>>) {
  const values = parseFlags(argv, {
    devices: { type: "string" },
    gateway: { type: "string" },
    period: { type: "string" },
    "id-prefix": { type: "string" },
    bundle: { type: "string" },
    workers: { type: "string" },
    cloud: { type: "string" },
    "cloud-token": { type: "string" },
    "devices-file": { type: "string" },
    "data-dir": { type: "string" },
    "ui-port": { type: "string" },
    trace: { type: "boolean" },
    app: { type: "string" },
    "no-build": { type: "boolean" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  const prefix = flag("id-prefix") ?? "sim";
  if (!/^[A-Za-z0-9._:-]{1,32}$/.test(prefix)) throw new UsageError(`--id-prefix may hold 1 to 32 letters, digits or . _ : -, got "${prefix}"`);
  const file = flag("devices-file");
  for (const other of ["devices", "id-prefix"]) {
    if (file !== undefined && flag(other) !== undefined) throw new UsageError(`--${other} has no effect with --devices-file: the file lists the devices`);
  }
  const cloudText = flag("cloud");
  const cloud = cloudText === undefined ? undefined : parseCloudAddress(cloudText);
  if (cloudText !== undefined && cloud === undefined) throw new UsageError(`--cloud must be http(s)://host:port (HTTP API) or host:port (Akka gRPC), got "${cloudText}"`);
  const token = flag("cloud-token") ?? (env[CLOUD_TOKEN_ENV] || undefined);
  if (token !== undefined && cloud === undefined) throw new UsageError(`--cloud-token (or ${CLOUD_TOKEN_ENV}) has no effect without --cloud`);
  const app = flag("app");
  if (values["no-build"] === true && app === undefined) throw new UsageError("--no-build goes with --app");
  if (flag("bundle") !== undefined && app !== undefined) throw new UsageError("--bundle and --app both name the app: give one");
  const help = values.help === true;
  const count = parseInteger("--devices", flag("devices") ?? "3", 1, MAX_DEVICES);
  const devices: DeviceCredentials[] | undefined = help || file === undefined ? undefined : readDevicesFile(resolve(file));
  return {
    help,
    app: app === undefined ? undefined : resolve(app),
    build: values["no-build"] !== true,
    devices,
    count: devices?.length ?? count,
    gateway: parseGateway(flag("gateway") ?? "127.0.0.1:1883"),
    periodMs: flag("period") === undefined ? undefined : parseInteger("--period", flag("period")!, 10, 86_400_000),
    prefix,
    bundle: flag("bundle") === undefined ? undefined : resolve(flag("bundle")!),
    workers: flag("workers") === undefined ? undefined : parseInteger("--workers", flag("workers")!, 1, 256),
    cloud,
    token,
    dataDir: resolve(flag("data-dir") ?? "./data/sim"),
    uiPort: flag("ui-port") === "off" ? undefined : parsePort("--ui-port", flag("ui-port") ?? String(DEFAULT_UI_PORT)),
    trace: values.trace === true,
    log: parseLogOptions(values, "pretty"),
  };
}

export function simCommand(argv: string[], io: CommandIo = processIo, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  if (argv[0] === "run") return scenarioRunCommand(argv.slice(1), io);
  return runService("sim", io, SIM_USAGE, () => parse(argv, env), async (options, logger) => {
    const ids = options.devices?.map((d) => d.sensorId) ?? Array.from({ length: options.count }, (_, i) => `${options.prefix}-${i + 1}`);
    const secrets = new Map<string, string>(options.devices?.map((d) => [d.sensorId, d.secret]) ?? []);
    if (options.cloud) {
      const registrar = createRegistrar(options.cloud, options.token);
      try {
        for (const sensorId of ids) {
          const secret = secrets.get(sensorId) ?? randomBytes(16).toString("hex");
          await registrar.register({ sensorId, secret });
          secrets.set(sensorId, secret);
        }
      } finally {
        registrar.close();
      }
      logger.info(`registered ${ids.length} devices at ${options.cloud.kind === "http" ? options.cloud.url : options.cloud.target}`);
    }
    const tally = new LoginTally(ids);
    let summaryTimer: ReturnType<typeof setTimeout> | undefined;
    const summarize = () => {
      summaryTimer ??= setTimeout(() => {
        summaryTimer = undefined;
        logger.info(tally.summary());
      }, SUMMARY_INTERVAL_MS);
    };
    const onTrace = options.trace ? (id: string, line: string) => io.out(`${id}: ${line}\n`) : undefined;
    const onLogin = (id: string, event: LoginEvent) => {
      if (!tally.record(id, event)) return;
      if (event.kind === "refused") {
        const hint = event.code === 5 || event.code === 4 ? " (is it registered at the gateway's cloud with this secret? --cloud registers it, --devices-file gives its secret)" : "";
        logger.warn(`${id}: the gateway refused the login: CONNACK ${event.code} ${event.reason}${hint}`, { sensorId: id, connack: event.code });
      } else {
        logger.info(`${id}: logged in to ${options.gateway.address}:${options.gateway.port}`, { sensorId: id });
      }
      summarize();
    };
    const app = options.app ? await loadApp(options.app, { build: options.build }) : undefined;
    const fleet = await startFleet({
      count: ids.length,
      sensorIds: ids,
      gatewayAddress: options.gateway.address,
      gatewayPort: options.gateway.port,
      samplePeriodMs: options.periodMs ?? (app ? undefined : 1000),
      app: options.bundle,
      project: app ? fleetApp(app) : undefined,
      workers: options.workers,
      dataDir: options.dataDir,
      secretFor: (id) => secrets.get(id),
      logger,
      onTrace,
      traceSamples: options.trace,
      onLogin,
    });
    const engine = fleetEngine(fleet);
    logger.info(`${fleet.length} simulated devices${app ? ` of ${app.project.name}` : ""} on ${engine.workers.length} xsnap-workers publishing to ${options.gateway.address}:${options.gateway.port}`);
    let ui: UiServer | undefined;
    if (options.uiPort !== undefined) {
      try {
        ui = await startUiServer({ engine, port: options.uiPort, logger });
        logger.info(`simulator UI ${ui.url}`);
      } catch (error) {
        // The fleet runs without its UI rather than not at all (another simulator holds the port, say).
        logger.warn(`simulator UI not started on port ${options.uiPort}: ${(error as Error).message}; pick another with --ui-port`);
      }
    }
    let since = engine.reading();
    const costs = setInterval(() => {
      const { cost, reading } = engine.cost(since);
      since = reading;
      const late = engine.lateness(true);
      logger.info("fleet cost", {
        devices: cost.devices,
        workers: cost.workers,
        memoryPerDeviceKiB: Math.round(cost.memoryPerDeviceBytes / 1024),
        cpuPerDeviceSecondUs: Math.round(cost.cpuPerDeviceSecondUs),
        timersLateP99Ms: late.quantile(0.99),
      });
    }, COST_LOG_MS);
    return {
      close: async () => {
        clearInterval(costs);
        await ui?.close();
        clearTimeout(summaryTimer);
        await stopFleet(fleet);
        logger.info(`stopped; ${tally.summary()}`);
      },
    };
  });
}
