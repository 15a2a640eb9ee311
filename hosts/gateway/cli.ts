/*
 * `xsedge gateway`: runs the gateway until SIGINT or SIGTERM.
 * Returns the exit code: 0 after a clean stop, 1 if the gateway could not
 * start, 2 for a usage error.
 */
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, parseLogOptions, parsePort, parseUrl, processIo, runService, stringFlag, type CommandIo,
} from "../cli/command.js";
import { DEFAULT_CLOUD_URL, DEFAULT_MQTT_PORT, startGateway } from "./gateway.js";

export const GATEWAY_USAGE = `Usage: xsedge gateway [options]

Runs the edge gateway: an MQTT broker for devices that stores each
observation (timed by the device's clock anchors) in SQLite before
acknowledging it, and relays it to the cloud.

Options:
  --host <addr>          interface for MQTT (default 127.0.0.1; 0.0.0.0 for the LAN)
  --mqtt-port <port>     MQTT port, 0 for any free one (default ${DEFAULT_MQTT_PORT})
  --data-dir <dir>       where the SQLite store lives (default ./data/gateway)
  --cloud-url <url>      base URL of the cloud service (default ${DEFAULT_CLOUD_URL})
  --log-level <level>    debug, info, warn or error (default info)
  --log-format <format>  json or pretty (default json)
  -h, --help             show this help
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    host: { type: "string" },
    "mqtt-port": { type: "string" },
    "data-dir": { type: "string" },
    "cloud-url": { type: "string" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  return {
    help: values.help === true,
    host: flag("host") ?? "127.0.0.1",
    mqttPort: parsePort("--mqtt-port", flag("mqtt-port") ?? String(DEFAULT_MQTT_PORT)),
    dataDir: resolve(flag("data-dir") ?? "./data/gateway"),
    cloudUrl: parseUrl("--cloud-url", flag("cloud-url") ?? DEFAULT_CLOUD_URL),
    log: parseLogOptions(values),
  };
}

export function gatewayCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  return runService("gateway", io, GATEWAY_USAGE, () => parse(argv), (options, logger) =>
    startGateway({ mqttHost: options.host, mqttPort: options.mqttPort, dataDir: options.dataDir, cloudUrl: options.cloudUrl, logger }));
}
