/*
 * `xsedge sim`: runs simulated devices (the real device bundle on XS) against
 * a gateway until SIGINT or SIGTERM.
 */
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, stringFlag, parseInteger, parseLogOptions, parsePort, processIo, runService, UsageError, type CommandIo,
} from "../hosts/cli/command.js";
import { startFleet, stopFleet } from "./fleet.js";
import { loadApp } from "./app/load-app.js";
import { startAppFleet, stopAppFleet } from "./app/app-fleet.js";

export const SIM_USAGE = `Usage: xsedge sim [options]

Runs simulated devices: each is a device app on the real XS engine, sampling
and publishing to the gateway over MQTT. By default the built-in app
(build/sim/device.js) with a simulated TMP117, SHT3x or BME280 in turn; with
--app, the app of a project made by "xsedge new": built (its tsc, then its
bundle) and run with the register and value models of its simulator models.

Options:
  --app <dir>            run the app of the project in <dir>
  --no-build             with --app, run its bundle as it is, without building
  --devices <n>          how many devices (default 3)
  --gateway <addr:port>  the gateway's MQTT address (default 127.0.0.1:1883)
  --period <ms>          sample period (default 1000; with --app, the app's)
  --id-prefix <prefix>   sensor ids are <prefix>-1, <prefix>-2, ... (default sim)
  --data-dir <dir>       where devices keep their preferences (default ./data/sim)
  --trace                print each device's trace lines
  --log-level <level>    debug, info, warn or error (default info)
  --log-format <format>  json or pretty (default pretty)
  -h, --help             show this help
`;

/** More workers than this is a load test, which belongs in the benchmark. */
const MAX_DEVICES = 1000;

function parseGateway(value: string): { address: string; port: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(value);
  if (!match) throw new UsageError(`--gateway must be <IPv4 address>:<port>, got "${value}"`);
  return { address: match[1], port: parsePort("--gateway", match[2]) };
}

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    devices: { type: "string" },
    app: { type: "string" },
    "no-build": { type: "boolean" },
    gateway: { type: "string" },
    period: { type: "string" },
    "id-prefix": { type: "string" },
    "data-dir": { type: "string" },
    trace: { type: "boolean" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  const prefix = flag("id-prefix") ?? "sim";
  if (!/^[A-Za-z0-9._:-]{1,32}$/.test(prefix)) throw new UsageError(`--id-prefix may hold 1 to 32 letters, digits or . _ : -, got "${prefix}"`);
  const app = flag("app");
  if (values["no-build"] === true && app === undefined) throw new UsageError("--no-build goes with --app");
  return {
    help: values.help === true,
    app: app === undefined ? undefined : resolve(app),
    build: values["no-build"] !== true,
    devices: parseInteger("--devices", flag("devices") ?? "3", 1, MAX_DEVICES),
    gateway: parseGateway(flag("gateway") ?? "127.0.0.1:1883"),
    periodMs: flag("period") === undefined ? undefined : parseInteger("--period", flag("period")!, 10, 86_400_000),
    prefix,
    dataDir: resolve(flag("data-dir") ?? "./data/sim"),
    trace: values.trace === true,
    log: parseLogOptions(values, "pretty"),
  };
}

export function simCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  return runService("sim", io, SIM_USAGE, () => parse(argv), async (options, logger) => {
    const onTrace = options.trace ? (id: string, line: string) => io.out(`${id}: ${line}\n`) : undefined;
    if (options.app) {
      const app = await loadApp(options.app, { build: options.build });
      const devices = await startAppFleet({
        app,
        count: options.devices,
        gatewayAddress: options.gateway.address,
        gatewayPort: options.gateway.port,
        samplePeriodMs: options.periodMs,
        idPrefix: options.prefix,
        dataDir: options.dataDir,
        logger,
        onTrace,
      });
      logger.info(`${devices.length} devices of ${app.project.name} publishing to ${options.gateway.address}:${options.gateway.port}`);
      return { close: () => stopAppFleet(devices) };
    }
    const fleet = await startFleet({
      count: options.devices,
      gatewayAddress: options.gateway.address,
      gatewayPort: options.gateway.port,
      samplePeriodMs: options.periodMs ?? 1000,
      idPrefix: options.prefix,
      dataDir: options.dataDir,
      logger,
      onTrace,
    });
    logger.info(`${fleet.length} simulated devices publishing to ${options.gateway.address}:${options.gateway.port}`);
    return { close: () => stopFleet(fleet) };
  });
}
