/*
 * What every `xsedge` subcommand shares: where it writes, how a usage error
 * is reported (exit code 2, naming the flag), flag parsers, and waiting for
 * SIGINT/SIGTERM so each command can stop cleanly.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { didYouMean } from "../config-text/did-you-mean.js";
import { createLogger, isLevel, type Level, type Logger } from "../log/logger.js";

/** Where a command writes; tests pass their own, and a signal to stop it. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** Stops the command as SIGINT/SIGTERM would. */
  signal?: AbortSignal;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export class UsageError extends Error {}

export const LOG_OPTIONS = {
  "log-level": { type: "string" },
  "log-format": { type: "string" },
} as const;

export type FlagValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

/**
 * parseArgs in strict mode, its errors turned into usage errors worded the
 * same way by every command: "unknown option --x (did you mean --y?)",
 * "--x needs a value", "unexpected argument y".
 */
export function parseFlags(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): FlagValues {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values as FlagValues;
  } catch (e) {
    const message = (e as Error).message;
    const unknown = /^Unknown option '(-{1,2}[^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown option ${unknown[1]}${didYouMean(unknown[1], Object.keys(options).map((name) => `--${name}`))}`);
    const missing = /^Option '(?:-\w, )?(--[^ ']+)[^']*' argument missing/.exec(message);
    if (missing) throw new UsageError(`${missing[1]} needs a value`);
    const positional = /^Unexpected argument '([^']*)'/.exec(message);
    if (positional) throw new UsageError(`unexpected argument ${JSON.stringify(positional[1])}: this command takes options only`);
    throw new UsageError(message);
  }
}

/** A string flag's value; flags are declared with type "string", so anything else is a bug here. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function parsePort(flag: string, value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${value}"`);
  return port;
}

export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

export function parseUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be a URL, got "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${flag} must be an http or https URL, got "${value}"`);
  return value;
}

export function parseLogOptions(values: { "log-level"?: unknown; "log-format"?: unknown }, defaultFormat: "json" | "pretty" = "json") {
  const level = String(values["log-level"] ?? "info");
  if (!isLevel(level)) throw new UsageError(`--log-level must be debug, info, warn or error, got "${level}"`);
  const format = String(values["log-format"] ?? defaultFormat);
  if (format !== "json" && format !== "pretty") throw new UsageError(`--log-format must be json or pretty, got "${format}"`);
  return { level: level as Level, format } as const;
}

/** Runs a command's parser; a usage error is printed with a pointer to --help and yields exit code 2. */
export function parseOrReport<T>(command: string, io: CommandIo, parse: () => T): T | number {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`xsedge ${command}: ${e.message}\nRun "xsedge ${command} --help" for usage.\n`);
    return 2;
  }
}

/** Resolves on SIGINT, SIGTERM or the io's abort signal, removing its handlers. */
export function untilStopped(signal: AbortSignal | undefined): Promise<string> {
  return stopRequests(signal).requested;
}

/**
 * SIGINT, SIGTERM or the io's abort signal, heard from now on: `requested`
 * resolves with which; `dispose` removes the handlers without waiting.
 * Listening before a service starts means a stop sent while it starts is a
 * clean stop once it has, not Node's default death by signal.
 */
export function stopRequests(signal: AbortSignal | undefined): { requested: Promise<string>; dispose(): void } {
  let dispose = () => {};
  const requested = new Promise<string>((resolveStop) => {
    const remove = () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      signal?.removeEventListener("abort", onAbort);
    };
    const stop = (why: string) => {
      remove();
      resolveStop(why);
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    const onAbort = () => stop("abort");
    dispose = remove;
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (signal?.aborted) return stop("abort");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  return { requested, dispose: () => dispose() };
}

/** What a long-running subcommand starts and, on SIGINT or SIGTERM, stops. */
export interface Service {
  close(): Promise<void>;
  /** What close() is still waiting for, for the log line when a stop overruns its deadline. */
  stillRunning?(): string[];
}

/**
 * The life of a long-running subcommand: parse (usage errors exit 2), --help
 * (exit 0), start (a failure to start is logged, exit 1; 2 for an error that
 * carries exitCode 2, such as a damaged store), run until SIGINT,
 * SIGTERM or the io's abort signal, close, exit 0. With `stopDeadlineMs`, a
 * close that takes longer is abandoned: exit 1, with what was still running
 * logged (a supervisor would otherwise kill it without a word).
 */
export async function runService<O extends { help: boolean; log: { level: Level; format: "json" | "pretty" }; stopDeadlineMs?: number }>(
  command: string,
  io: CommandIo,
  usage: string,
  parse: () => O,
  start: (options: O, logger: Logger) => Promise<Service>,
): Promise<number> {
  const options = parseOrReport(command, io, parse);
  if (typeof options === "number") return options;
  if (options.help) {
    io.out(usage);
    return 0;
  }
  const logger = createLogger({ component: command, ...options.log, write: (line) => io.err(line + "\n") });
  const stop = stopRequests(io.signal);
  let service: Service;
  try {
    service = await start(options, logger);
  } catch (e) {
    stop.dispose();
    logger.error(`${command} could not start: ${(e as Error).message}`, { error: e });
    // A data error (a damaged or too new store) is not fixed by a restart: 2, as a config error.
    return (e as { exitCode?: unknown })?.exitCode === 2 ? 2 : 1;
  }
  const why = await stop.requested;
  logger.info(`stopping (${why})`);
  if (options.stopDeadlineMs === undefined) {
    await service.close();
    return 0;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"overran">((resolveDeadline) => {
    timer = setTimeout(() => resolveDeadline("overran"), options.stopDeadlineMs);
  });
  const outcome = await Promise.race([service.close().then(() => "closed" as const), deadline]);
  clearTimeout(timer);
  if (outcome === "closed") return 0;
  const running = service.stillRunning?.() ?? [];
  logger.error(`stop deadline of ${options.stopDeadlineMs} ms passed; still running: ${running.join(", ") || "unknown"}`, { stillRunning: running });
  return 1;
}
