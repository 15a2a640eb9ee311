/*
 * `xsedge gateway`: runs the gateway until SIGINT or SIGTERM.
 * Returns the exit code: 0 after a clean stop, 1 if the gateway could not
 * start, 2 for a usage error.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { createLogger, isLevel } from "../log/logger.js";
import { DEFAULT_CLOUD_URL, DEFAULT_MQTT_PORT, startGateway } from "./gateway.js";

export const GATEWAY_USAGE = `Usage: xsedge gateway [options]

Runs the edge gateway: an MQTT broker for devices that stores each
observation in SQLite before acknowledging it, and relays it to the cloud.

Options:
  --host <addr>          interface for MQTT (default 127.0.0.1; 0.0.0.0 for the LAN)
  --mqtt-port <port>     MQTT port, 0 for any free one (default ${DEFAULT_MQTT_PORT})
  --data-dir <dir>       where the SQLite store lives (default ./data/gateway)
  --cloud-url <url>      base URL of the cloud service (default ${DEFAULT_CLOUD_URL})
  --log-level <level>    debug, info, warn or error (default info)
  --log-format <format>  json or pretty (default json)
  -h, --help             show this help
`;

/** Where a command writes; tests pass their own, and a signal to stop it. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** Stops the command as SIGINT/SIGTERM would. */
  signal?: AbortSignal;
}

const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

class UsageError extends Error {}

function parsePort(flag: string, value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${value}"`);
  return port;
}

function parseUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be a URL, got "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${flag} must be an http or https URL, got "${value}"`);
  return value;
}

function parseLogOptions(values: { "log-level"?: string; "log-format"?: string }) {
  const level = values["log-level"] ?? "info";
  if (!isLevel(level)) throw new UsageError(`--log-level must be debug, info, warn or error, got "${level}"`);
  const format = values["log-format"] ?? "json";
  if (format !== "json" && format !== "pretty") throw new UsageError(`--log-format must be json or pretty, got "${format}"`);
  return { level, format } as const;
}

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        "mqtt-port": { type: "string" },
        "data-dir": { type: "string" },
        "cloud-url": { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    // parseArgs names the flag ("Unknown option '--x'", "Option '--mqtt-port <value>' argument missing").
    throw new UsageError((e as Error).message);
  }
  return {
    help: values.help === true,
    host: values.host ?? "127.0.0.1",
    mqttPort: values["mqtt-port"] === undefined ? DEFAULT_MQTT_PORT : parsePort("--mqtt-port", values["mqtt-port"]),
    dataDir: resolve(values["data-dir"] ?? "./data/gateway"),
    cloudUrl: parseUrl("--cloud-url", values["cloud-url"] ?? DEFAULT_CLOUD_URL),
    log: parseLogOptions(values),
  };
}

/** Resolves on SIGINT, SIGTERM or the io's abort signal, removing its handlers. */
function untilStopped(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolveStop) => {
    const stop = (why: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      signal?.removeEventListener("abort", onAbort);
      resolveStop(why);
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    const onAbort = () => stop("abort");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (signal?.aborted) return stop("abort");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export async function gatewayCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`xsedge gateway: ${e.message}\nRun "xsedge gateway --help" for usage.\n`);
    return 2;
  }
  if (options.help) {
    io.out(GATEWAY_USAGE);
    return 0;
  }
  const logger = createLogger({ component: "gateway", ...options.log, write: (line) => io.err(line + "\n") });
  let gateway;
  try {
    gateway = await startGateway({
      mqttHost: options.host,
      mqttPort: options.mqttPort,
      dataDir: options.dataDir,
      cloudUrl: options.cloudUrl,
      logger,
    });
  } catch (e) {
    logger.error(`gateway could not start: ${(e as Error).message}`, { error: e });
    return 1;
  }
  const why = await untilStopped(io.signal);
  logger.info(`stopping (${why})`);
  await gateway.close();
  return 0;
}
