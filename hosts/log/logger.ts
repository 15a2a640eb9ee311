/*
 * Structured logs for every Node process of xsedge (gateway, simulator host,
 * reference cloud). One JSON object per line, so operators can ship them to
 * journald or Loki unchanged; `pretty` is for a person watching `npm start`.
 */
export type Level = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export interface LoggerOptions {
  component: string;
  level?: Level;
  format?: "json" | "pretty";
  /** Where lines go; stderr by default so stdout stays free for program output. */
  write?: (line: string) => void;
  now?: () => number;
}

export function isLevel(value: string): value is Level {
  return value in LEVEL_RANK;
}

export function createLogger(options: LoggerOptions): Logger {
  const minimum = LEVEL_RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = options.now ?? Date.now;
  const format = options.format ?? "json";

  function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (LEVEL_RANK[level] < minimum) return;
    const time = new Date(now()).toISOString();
    if (format === "pretty") {
      const extra = fields && Object.keys(fields).length > 0 ? " " + JSON.stringify(fields, jsonSafe) : "";
      write(`${time.slice(11, 23)} ${level.padEnd(5)} [${options.component}] ${msg}${extra}`);
    } else {
      write(JSON.stringify({ time, level, component: options.component, msg, ...fields }, jsonSafe));
    }
  }

  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (component) => createLogger({ ...options, component: `${options.component}/${component}` }),
  };
}

// Errors and bigints would otherwise log as {} or throw.
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A logger that keeps its lines, for tests that assert what was logged. */
export function createMemoryLogger(component = "test"): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ component, level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  return Object.assign(logger, { lines });
}
