/*
 * `xsedge cloud`: runs the reference cloud service until SIGINT or SIGTERM.
 * Returns the exit code: 0 after a clean stop, 1 if it could not start,
 * 2 for a usage error.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { createLogger, isLevel } from "../../hosts/log/logger.js";
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

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "data-dir": { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const rawPort = values.port ?? String(DEFAULT_CLOUD_PORT);
  const port = /^\d+$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port must be a port number from 0 to 65535, got "${rawPort}"`);
  const level = values["log-level"] ?? "info";
  if (!isLevel(level)) throw new UsageError(`--log-level must be debug, info, warn or error, got "${level}"`);
  const format = values["log-format"] ?? "json";
  if (format !== "json" && format !== "pretty") throw new UsageError(`--log-format must be json or pretty, got "${format}"`);
  return { help: values.help === true, host: values.host ?? "127.0.0.1", port, dataDir: resolve(values["data-dir"] ?? "./data/cloud"), level, format } as const;
}

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

export async function cloudCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`xsedge cloud: ${e.message}\nRun "xsedge cloud --help" for usage.\n`);
    return 2;
  }
  if (options.help) {
    io.out(CLOUD_USAGE);
    return 0;
  }
  const logger = createLogger({ component: "cloud", level: options.level, format: options.format, write: (line) => io.err(line + "\n") });
  let cloud;
  try {
    cloud = await startCloud({ host: options.host, port: options.port, dataDir: options.dataDir, logger });
  } catch (e) {
    logger.error(`cloud could not start: ${(e as Error).message}`, { error: e });
    return 1;
  }
  cloud.onObservation((obs) => logger.debug("observation stored", { offset: obs.offset, sensorId: obs.sensorId, seq: obs.seq }));
  const why = await untilStopped(io.signal);
  logger.info(`stopping (${why})`);
  await cloud.close();
  return 0;
}
