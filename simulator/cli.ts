/*
 * `xsedge sim`: runs simulated devices (the real device bundle on XS) against
 * a gateway until SIGINT or SIGTERM.
 */
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, stringFlag, parseInteger, parseLogOptions, parsePort, processIo, runService, UsageError, type CommandIo,
} from "../hosts/cli/command.js";
import { fleetEngine, startFleet, stopFleet } from "./fleet.js";
import { MAX_DEVICES_PER_WORKER } from "./fleet/fleet-engine.js";
import { scenarioRunCommand } from "./scenario/run-command.js";
import { startUiServer, type UiServer } from "./ui/ui-server.js";

/** The web UI's port unless told: beside the gateway's dashboard on 8080. */
export const DEFAULT_UI_PORT = 8090;

/** A fleet of this size takes about 10 GB and, at one sample a second, more than two cores (see npm run bench). */
const MAX_DEVICES = 20_000;
/** How often the fleet's cost is logged. */
const COST_LOG_MS = 30_000;

export const SIM_USAGE = `Usage: xsedge sim [options]
       xsedge sim run <scenario file> [options]   (see xsedge sim run --help)

Runs simulated devices: the device's app bundle (build/moddable/main.js, the
file a board is flashed with) on the real XS engine, many devices per
xsnap-worker, each in its own Compartment with its own clock, flash,
preferences, sensor part (TMP117, SHT3x and BME280 in turn) and socket,
sampling and publishing to the gateway over MQTT. Every 30 s it logs the
memory per device and the CPU per device-second.

Options:
  --devices <n>          how many devices (default 3, at most ${MAX_DEVICES})
  --gateway <addr:port>  the gateway's MQTT address (default 127.0.0.1:1883)
  --period <ms>          sample period (default 1000)
  --id-prefix <prefix>   sensor ids are <prefix>-1, <prefix>-2, ... (default sim)
  --bundle <file>        the app bundle every device runs: one ES module of
                         build/moddable/main.js's form (default that file)
  --workers <n>          xsnap-workers to run them in (default: one per core,
                         more for large fleets: at most ${MAX_DEVICES_PER_WORKER} devices each)
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

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    devices: { type: "string" },
    gateway: { type: "string" },
    period: { type: "string" },
    "id-prefix": { type: "string" },
    bundle: { type: "string" },
    workers: { type: "string" },
    "data-dir": { type: "string" },
    "ui-port": { type: "string" },
    trace: { type: "boolean" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  const prefix = flag("id-prefix") ?? "sim";
  if (!/^[A-Za-z0-9._:-]{1,32}$/.test(prefix)) throw new UsageError(`--id-prefix may hold 1 to 32 letters, digits or . _ : -, got "${prefix}"`);
  return {
    help: values.help === true,
    devices: parseInteger("--devices", flag("devices") ?? "3", 1, MAX_DEVICES),
    gateway: parseGateway(flag("gateway") ?? "127.0.0.1:1883"),
    periodMs: parseInteger("--period", flag("period") ?? "1000", 10, 86_400_000),
    prefix,
    app: flag("bundle") === undefined ? undefined : resolve(flag("bundle")!),
    workers: flag("workers") === undefined ? undefined : parseInteger("--workers", flag("workers")!, 1, 256),
    dataDir: resolve(flag("data-dir") ?? "./data/sim"),
    uiPort: flag("ui-port") === "off" ? undefined : parsePort("--ui-port", flag("ui-port") ?? String(DEFAULT_UI_PORT)),
    trace: values.trace === true,
    log: parseLogOptions(values, "pretty"),
  };
}

export function simCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  if (argv[0] === "run") return scenarioRunCommand(argv.slice(1), io);
  return runService("sim", io, SIM_USAGE, () => parse(argv), async (options, logger) => {
    const fleet = await startFleet({
      count: options.devices,
      gatewayAddress: options.gateway.address,
      gatewayPort: options.gateway.port,
      samplePeriodMs: options.periodMs,
      idPrefix: options.prefix,
      app: options.app,
      workers: options.workers,
      dataDir: options.dataDir,
      logger,
      onTrace: options.trace ? (id, line) => io.out(`${id}: ${line}\n`) : undefined,
    });
    const engine = fleetEngine(fleet);
    logger.info(`${fleet.length} simulated devices on ${engine.workers.length} xsnap-workers publishing to ${options.gateway.address}:${options.gateway.port}`);
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
        await stopFleet(fleet);
      },
    };
  });
}
