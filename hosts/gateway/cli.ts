/*
 * `xsedge gateway`: runs the gateway until SIGINT or SIGTERM.
 * Settings come from defaults, a config file (--config), XSEDGE_GATEWAY_*
 * variables and flags, in rising precedence (see config/schema.ts).
 * Returns the exit code: 0 after a clean stop, 1 if the gateway could not
 * start or its stop overran the deadline, 2 for a usage or config error or a
 * damaged store (restarting cannot fix those).
 */
import { readFileSync, statSync } from "node:fs";
import { parseFlags, parseOrReport, processIo, runService, stringFlag, UsageError, type CommandIo, type FlagValues } from "../cli/command.js";
import { toGatewayOptions, toProcessSettings, type ConfiguredGatewayOptions } from "./config/gateway-options.js";
import { formatConfig } from "./config/print-config.js";
import { resolveConfig, type ResolvedConfig } from "./config/resolve.js";
import { CONFIG_FILE_ENV, CONFIG_SCHEMA, flagName, type ConfigKey } from "./config/schema.js";
import type { Setting } from "./config/source.js";
import type { ValueKind } from "./config/value-kinds.js";
import { startGateway } from "./gateway.js";
import { TokenError } from "../auth/bearer.js";

const PLACEHOLDER: Record<ValueKind["type"], string> = {
  port: "<port>", integer: "<n>", number: "<n>", size: "<size>", duration: "<ms>", string: "<text>", path: "<path>", url: "<url>", target: "<host:port>", boolean: "<true|false>", enum: "<value>",
};

const USAGE_COLUMN = 40;
/** A config file larger than this is not a config file (the example is 3 kB); it is refused before it is read. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
const usageLine = (left: string, text: string) => `${left.padEnd(USAGE_COLUMN)} ${text}`;

function optionLines(): string {
  const lines: string[] = [usageLine("  --config <file>", `the config file (or ${CONFIG_FILE_ENV})`), usageLine("  --print-config", "print the resolved settings (secrets redacted) and exit")];
  for (const key of CONFIG_SCHEMA) {
    const flag = flagName(key);
    if (flag === undefined) continue;
    const left = `  ${[...(key.aliases ?? []), flag].join(", ")} ${key.kind.type === "enum" ? `<${key.kind.values.join("|")}>` : PLACEHOLDER[key.kind.type]}`;
    const defaultText = key.default === undefined ? "" : ` (default ${String(key.default)})`;
    lines.push(usageLine(left, `${key.description}${defaultText}`));
  }
  lines.push(usageLine("  -h, --help", "show this help"));
  return lines.join("\n");
}

export const GATEWAY_USAGE = `Usage: xsedge gateway [options]

Runs the edge gateway: an MQTT broker for devices that stores each
observation (timed by the device's clock anchors) in SQLite before
acknowledging it, and relays it to the cloud.

Every setting has a key in the config file (YAML or JSON; e.g. mqtt.port),
an environment variable (XSEDGE_GATEWAY_ and the key path in capitals,
e.g. XSEDGE_GATEWAY_MQTT_PORT) and, except secrets, a flag. Flags win over
the environment, the environment over the file, the file over defaults.
"off" as a port turns that listener off. Sizes take "512 MiB", durations "30s".

Options:
${optionLines()}
`;

const FLAG_KEYS = new Map<string, ConfigKey>();
for (const key of CONFIG_SCHEMA) {
  for (const flag of [flagName(key), ...(key.aliases ?? [])]) if (flag !== undefined) FLAG_KEYS.set(flag.slice(2), key);
}

const FLAG_OPTIONS = {
  config: { type: "string" },
  "print-config": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries([...FLAG_KEYS.keys()].map((name) => [name, { type: "string" }])),
} as const;

function parseArgv(argv: string[]): FlagValues {
  return parseFlags(argv, FLAG_OPTIONS);
}

function flagSettings(values: FlagValues): Setting[] {
  const settings: Setting[] = [];
  for (const key of CONFIG_SCHEMA) {
    // The key's own flag wins over an alias given too.
    for (const flag of [flagName(key), ...(key.aliases ?? [])]) {
      const value = flag === undefined ? undefined : stringFlag(values, flag.slice(2));
      if (flag === undefined || value === undefined) continue;
      settings.push({ path: key.path, value, source: { kind: "flag", name: flag } });
      break;
    }
  }
  return settings;
}

interface ParsedGateway {
  help: boolean;
  printConfig: boolean;
  configFile: string | undefined;
  config: ResolvedConfig | undefined;
  log: ReturnType<typeof toProcessSettings>["log"];
  stopDeadlineMs?: number;
  options?: ConfiguredGatewayOptions;
}

function parse(argv: string[], env: Readonly<Record<string, string | undefined>>): ParsedGateway {
  const values = parseArgv(argv);
  if (values.help === true) return { help: true, printConfig: false, configFile: undefined, config: undefined, log: { level: "info", format: "json" } };
  const configFile = stringFlag(values, "config") ?? (env[CONFIG_FILE_ENV] || undefined);
  let file: { name: string; text: string } | undefined;
  if (configFile !== undefined) {
    const via = stringFlag(values, "config") !== undefined ? "--config" : CONFIG_FILE_ENV;
    try {
      const size = statSync(configFile).size;
      if (size > MAX_CONFIG_FILE_BYTES) throw new UsageError(`${via}: ${configFile} has ${size} bytes, more than a config file's ${MAX_CONFIG_FILE_BYTES}`);
      file = { name: configFile, text: readFileSync(configFile, "utf8") };
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${via}: cannot read ${configFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const result = resolveConfig({ file, env, flags: flagSettings(values) });
  if (!result.ok) {
    const { errors } = result;
    throw new UsageError(errors.length === 1 ? errors[0] : `${errors.length} configuration errors:\n  ${errors.join("\n  ")}`);
  }
  return {
    help: false,
    printConfig: values["print-config"] === true,
    configFile,
    config: result.config,
    ...toProcessSettings(result.config),
    options: gatewayOptions(result.config),
  };
}

/** A token file that cannot be read, or a TLS file, is the configuration's fault: exit 2, naming the key. */
function gatewayOptions(config: ResolvedConfig): ConfiguredGatewayOptions {
  try {
    return toGatewayOptions(config);
  } catch (error) {
    if (error instanceof TokenError) throw new UsageError(error.message);
    throw error;
  }
}

export async function gatewayCommand(argv: string[], io: CommandIo = processIo, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const parsed = parseOrReport("gateway", io, () => parse(argv, env));
  if (typeof parsed === "number") return parsed;
  if (parsed.printConfig && parsed.config) {
    io.out(formatConfig(parsed.config));
    return 0;
  }
  return runService("gateway", io, GATEWAY_USAGE, () => parsed, (options, logger) => {
    logger.info("configuration loaded", { file: options.configFile ?? null, stopDeadlineMs: options.stopDeadlineMs });
    // parse() sets options whenever it returns without help or printConfig, the only cases runService starts.
    return startGateway({ ...(options.options as ConfiguredGatewayOptions), logger });
  });
}
