/*
 * `xsedge rules deploy|list|show|disable|enable|rollback`: an operator's
 * client of a running gateway's local API (the rule routes of
 * api/rule-routes.ts), so a rule is deployed the same way from the Pi's
 * shell or from a laptop that reaches the API. The gateway does the
 * type-check, the bundling and the hand-over; this only sends the file and
 * prints what came back. Exit codes: 0 done, 1 refused by the gateway (or
 * unreachable), 2 a usage error.
 */
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { parseUrl, processIo, UsageError, type CommandIo } from "../../cli/command.js";
import { MAX_RULE_SOURCE_BYTES } from "./rule-build.js";
import type { RuleStats } from "./rule-runner.js";

export const DEFAULT_GATEWAY_API = "http://127.0.0.1:8080";
/** Where a token for the local API comes from: never a flag (a flag is visible to every user in `ps`). */
export const TOKEN_ENV = "XSEDGE_API_TOKEN";
/** A deploy waits for the build, the self-test and the hand-over: well under this. */
const REQUEST_TIMEOUT_MS = 120_000;

export const RULES_USAGE = `Usage: xsedge rules <command> [options]

Deploys and manages a running gateway's rules through its local API.

Commands:
  deploy <file.ts>          type-check, bundle and self-test the rule, then hand over from its running version
  list                      every rule: version, status, lag, events, failures
  show <name>               one rule: its figures, state, last error and version history
  disable <name>            stop a rule where it is (its offset is kept)
  enable <name>             start it again after that offset
  rollback <name>           run the previous version again (or --to <version>)

Options:
  --gateway <url>           the gateway's local API (default ${DEFAULT_GATEWAY_API}, or XSEDGE_GATEWAY_URL)
  --token-file <file>       a file holding the API token (default: the ${TOKEN_ENV} variable), sent as a bearer token
  --to <version>            with rollback: the version to run again
  --json                    print the gateway's JSON answer instead of text
  -h, --help                show this help
`;

interface Options {
  command: string;
  argument: string | undefined;
  gateway: string;
  token: string | undefined;
  to: number | undefined;
  json: boolean;
  help: boolean;
}

const COMMANDS = ["deploy", "list", "show", "disable", "enable", "rollback"];

function parse(argv: string[], env: NodeJS.ProcessEnv): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { gateway: { type: "string" }, "token-file": { type: "string" }, to: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const help = values.help === true;
  const [command, argument, ...rest] = positionals;
  if (!help) {
    if (command === undefined) throw new UsageError(`a command is needed: ${COMMANDS.join(", ")}`);
    if (!COMMANDS.includes(command)) throw new UsageError(`unknown command "${command}"; expected ${COMMANDS.join(", ")}`);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (command === "list" && argument !== undefined) throw new UsageError(`list takes no argument, got "${argument}"`);
    if (command !== "list" && argument === undefined) throw new UsageError(`${command} needs ${command === "deploy" ? "a .ts file" : "a rule's name"}`);
    if (values.to !== undefined && command !== "rollback") throw new UsageError("--to goes with rollback");
  }
  const to = values.to === undefined ? undefined : /^[1-9]\d{0,8}$/.test(values.to) ? Number(values.to) : NaN;
  if (Number.isNaN(to)) throw new UsageError(`--to must be a version number, got "${values.to}"`);
  let token = env[TOKEN_ENV];
  if (values["token-file"] !== undefined) {
    try {
      token = readFileSync(values["token-file"], "utf8").trim();
    } catch (e) {
      throw new UsageError(`--token-file: ${(e as Error).message}`);
    }
  }
  const gateway = parseUrl("--gateway", values.gateway ?? env.XSEDGE_GATEWAY_URL ?? DEFAULT_GATEWAY_API).replace(/\/+$/, "");
  return { command: command ?? "", argument, gateway, token: token || undefined, to, json: values.json === true, help };
}

async function call(options: Options, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(options.gateway + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text.slice(0, 500) };
  }
  return { status: res.status, body: parsed };
}

const ago = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

function row(rule: RuleStats): string {
  const failures = rule.failuresTotal > 0 ? ` ${rule.failuresTotal} failed` : "";
  const lag = rule.lagObservations > 0 ? `lag ${rule.lagObservations} (${ago(rule.lagMs)})` : "caught up";
  return `${rule.name.padEnd(24)} v${String(rule.version).padEnd(4)} ${rule.status.padEnd(9)} ${lag.padEnd(22)} ${rule.events} events${failures}`;
}

/** How much of a rule's state `show` prints (--json has all of it). */
const SHOWN_STATE_CHARS = 500;

function describe(result: { rule: RuleStats; versions: { version: number; hash: string; deployedAt: number; status: string; detail: string | null }[]; state: unknown }): string {
  const { rule, versions } = result;
  const state = JSON.stringify(result.state);
  const lines = [
    `${rule.name} v${rule.version} (${rule.file}, sha256 ${rule.hash.slice(0, 12)}): ${rule.status}${rule.disabledReason ? ` — ${rule.disabledReason}` : ""}`,
    `  selects ${rule.sensors.join(", ")}${rule.quantities ? ` with ${rule.quantities.join(", ")}` : ""}; relay: ${rule.relay}; on worker ${rule.worker}`,
    `  offset ${rule.position} (committed ${rule.committedPosition}); ${rule.lagObservations > 0 ? `${rule.lagObservations} observations behind, the oldest waiting ${ago(rule.lagMs)}` : "caught up"}`,
    `  ${rule.events} events, ${rule.derived} derived, ${rule.alerts} alerts, ${rule.keptLocal} kept local, ${rule.traces} trace lines; ${rule.computePerEvent} computrons per event (limit ${rule.limits.computePerEvent})`,
    `  failures: ${rule.failuresTotal === 0 ? "none" : Object.entries(rule.failures).map(([kind, n]) => `${n} ${kind}`).join(", ")}`,
  ];
  if (result.state === null) lines.push("  state: none yet (no event handled; it starts from its initialState)");
  else lines.push(`  state (${rule.stateBytes} bytes${rule.nextTimerAt === null ? "" : `; next timer ${new Date(rule.nextTimerAt).toISOString()}`}): ${state.length > SHOWN_STATE_CHARS ? `${state.slice(0, SHOWN_STATE_CHARS)}… (--json for all)` : state}`);
  if (rule.lastError) lines.push(`  last error (${new Date(rule.lastError.at).toISOString()}): ${rule.lastError.message}`);
  lines.push("  versions:");
  for (const v of versions) lines.push(`    v${v.version} ${v.status.padEnd(10)} ${new Date(v.deployedAt).toISOString()} sha256 ${v.hash.slice(0, 12)}${v.detail ? ` (${v.detail})` : ""}`);
  return lines.join("\n") + "\n";
}

function deployed(body: any): string {
  if (body.outcome === "unchanged") return `${body.rule} v${body.version} is already running this source (sha256 ${body.hash.slice(0, 12)}): nothing to do\n`;
  const was = body.previousVersion === null ? "new rule" : `was v${body.previousVersion}`;
  return `${body.rule} v${body.version} live (${was}), sha256 ${body.hash.slice(0, 12)}, from observation ${body.handedOverAt + 1}, ${body.tookMs} ms after the deploy began\n`;
}

async function run(options: Options, io: CommandIo): Promise<number> {
  let answer: { status: number; body: any };
  const name = options.argument ?? "";
  switch (options.command) {
    case "deploy": {
      const file = options.argument!;
      let source: string;
      try {
        if (statSync(file).size > MAX_RULE_SOURCE_BYTES) throw new Error(`larger than the ${MAX_RULE_SOURCE_BYTES}-byte limit`);
        source = readFileSync(file, "utf8");
      } catch (e) {
        io.err(`xsedge rules deploy: ${file}: ${(e as Error).message}\n`);
        return 1;
      }
      answer = await call(options, "POST", "/api/v1/rules", { source, file: basename(file) });
      break;
    }
    case "list":
      answer = await call(options, "GET", "/api/v1/rules");
      break;
    case "show":
      answer = await call(options, "GET", `/api/v1/rules/detail?name=${encodeURIComponent(name)}`);
      break;
    case "rollback":
      answer = await call(options, "POST", "/api/v1/rules/rollback", options.to === undefined ? { name } : { name, version: options.to });
      break;
    default:
      answer = await call(options, "POST", `/api/v1/rules/${options.command}`, { name });
  }
  if (options.json) io.out(JSON.stringify(answer.body, null, 2) + "\n");
  if (answer.status >= 400) {
    io.err(`xsedge rules ${options.command}: the gateway answered ${answer.status}: ${answer.body?.error ?? "?"}\n`);
    for (const d of answer.body?.diagnostics ?? []) io.err(`  ${d.file}:${d.line}:${d.column} ${d.code} ${d.message}\n`);
    return 1;
  }
  if (options.json) return 0;
  switch (options.command) {
    case "deploy":
    case "rollback":
      io.out(deployed(answer.body));
      break;
    case "list":
      io.out(answer.body.rules.length === 0 ? "no rules\n" : answer.body.rules.map(row).join("\n") + "\n");
      break;
    case "show":
      io.out(describe(answer.body));
      break;
    default:
      io.out(`${row(answer.body.rule)}\n`);
  }
  return 0;
}

export async function rulesCommand(argv: string[], io: CommandIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: Options;
  try {
    options = parse(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`xsedge rules: ${e.message}\nRun "xsedge rules --help" for usage.\n`);
    return 2;
  }
  if (options.help) {
    io.out(RULES_USAGE);
    return 0;
  }
  try {
    return await run(options, io);
  } catch (e) {
    io.err(`xsedge rules ${options.command}: could not reach the gateway at ${options.gateway}: ${(e as Error).message}\n`);
    return 1;
  }
}
