/*
 * `xsedge cloud`: runs the reference cloud service until SIGINT or SIGTERM.
 * Returns the exit code: 0 after a clean stop, 1 if it could not start,
 * 2 for a usage error.
 */
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, parseLogOptions, parsePort, processIo, runService, stringFlag, type CommandIo,
} from "../../hosts/cli/command.js";
import { DEFAULT_CLOUD_PORT, startCloud } from "./server.js";

export const CLOUD_USAGE = `Usage: xsedge cloud [options]

Runs the reference cloud registration service: sensor registration, the
observation log that gateways relay to, and a live Server-Sent Events stream.

Options:
  --host <addr>          interface to listen on (default 127.0.0.1)
  --port <port>          HTTP port, 0 for any free one (default ${DEFAULT_CLOUD_PORT})
  --data-dir <dir>       where the SQLite store lives (default ./data/cloud)
  --log-level <level>    debug, info, warn or error (default info)
  --log-format <format>  json or pretty (default json)
  -h, --help             show this help
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "data-dir": { type: "string" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  return {
    help: values.help === true,
    host: flag("host") ?? "127.0.0.1",
    port: parsePort("--port", flag("port") ?? String(DEFAULT_CLOUD_PORT)),
    dataDir: resolve(flag("data-dir") ?? "./data/cloud"),
    log: parseLogOptions(values),
  };
}

export function cloudCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  return runService("cloud", io, CLOUD_USAGE, () => parse(argv), async (options, logger) => {
    const cloud = await startCloud({ host: options.host, port: options.port, dataDir: options.dataDir, logger });
    cloud.onObservation((obs) => logger.debug("observation stored", { offset: obs.offset, sensorId: obs.sensorId, seq: obs.seq }));
    return cloud;
  });
}
