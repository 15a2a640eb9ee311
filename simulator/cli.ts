/*
 * `xsedge sim`: runs simulated devices (the real device bundle on XS) against
 * a gateway until SIGINT or SIGTERM.
 */
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, stringFlag, parseInteger, parseLogOptions, parsePort, processIo, runService, UsageError, type CommandIo,
} from "../hosts/cli/command.js";
import { startFleet, stopFleet } from "./fleet.js";

export const SIM_USAGE = `Usage: xsedge sim [options]

Runs simulated devices: each is the device bundle (build/sim/device.js) on
the real XS engine, with a simulated TMP117 sensor, sampling and publishing
to the gateway over MQTT.

Options:
  --devices <n>          how many devices (default 3)
  --gateway <addr:port>  the gateway's MQTT address (default 127.0.0.1:1883)
  --period <ms>          sample period (default 1000)
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
  return {
    help: values.help === true,
    devices: parseInteger("--devices", flag("devices") ?? "3", 1, MAX_DEVICES),
    gateway: parseGateway(flag("gateway") ?? "127.0.0.1:1883"),
    periodMs: parseInteger("--period", flag("period") ?? "1000", 10, 86_400_000),
    prefix,
    dataDir: resolve(flag("data-dir") ?? "./data/sim"),
    trace: values.trace === true,
    log: parseLogOptions(values, "pretty"),
  };
}

export function simCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  return runService("sim", io, SIM_USAGE, () => parse(argv), async (options, logger) => {
    const fleet = await startFleet({
      count: options.devices,
      gatewayAddress: options.gateway.address,
      gatewayPort: options.gateway.port,
      samplePeriodMs: options.periodMs,
      idPrefix: options.prefix,
      dataDir: options.dataDir,
      logger,
      onTrace: options.trace ? (id, line) => io.out(`${id}: ${line}\n`) : undefined,
    });
    logger.info(`${fleet.length} simulated devices publishing to ${options.gateway.address}:${options.gateway.port}`);
    return { close: () => stopFleet(fleet) };
  });
}
