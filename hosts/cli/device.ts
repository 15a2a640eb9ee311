/*
 * `xsedge device`: messages to a device, through the gateway's local API
 * (POST/GET /api/v1/downlinks), so the same checks, the same queue and the
 * same authentication apply as to any other client of the API.
 */
import { DEFAULT_HTTP_PORT } from "../gateway/api/server.js";
import { processIo, UsageError, type CommandIo } from "./command.js";
import { parseArgs } from "node:util";

export const DEVICE_USAGE = `Usage: xsedge device <action> ... [options]

Changes a device's settings and sends it commands through the gateway, which
keeps them while the device is offline and shows their state.

  xsedge device set <sensorId> <key>=<value> ...   settings (applied together or not at all)
  xsedge device command <sensorId> <name> [<arg>]  a command: flush, reboot, identify, or the app's own
  xsedge device downlinks [<sensorId>]             requests and their state, newest first

A value is a number, true or false, or text. States: queued (waiting for the
device), sent, delivered (it has it), then applied, refused (with its reason),
stale (it had applied a newer request) or expired.

Options:
  --gateway <url>   the gateway's local API (default $XSEDGE_GATEWAY_URL or http://127.0.0.1:${DEFAULT_HTTP_PORT})
  --token <token>   the API's bearer token (default $XSEDGE_API_TOKEN)
  --wait <s>        wait up to <s> seconds for the device's outcome (exit 0 applied, 1 not applied, 3 still waiting)
  --ttl <s>         how long the gateway keeps trying (default a week)
  --limit <n>       with downlinks: how many (default 20)
  -h, --help        show this help
`;

interface Downlink { id: number; sensorId: string; state: string; detail: string | null; settings?: object; command?: string; arg?: unknown }

const FINAL = new Set(["applied", "refused", "stale", "expired"]);

/** `key=value`: true, false, a number, or text. */
export function parseAssignment(text: string): [string, string | number | boolean] {
  const at = text.indexOf("=");
  if (at < 1) throw new UsageError(`settings are <key>=<value>, got "${text}"`);
  return [text.slice(0, at), parseValue(text.slice(at + 1))];
}

export function parseValue(raw: string): string | number | boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  return /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw) ? Number(raw) : raw;
}

function describe(r: Downlink): string {
  const what = r.command !== undefined ? `command ${r.command}${r.arg === undefined ? "" : ` ${JSON.stringify(r.arg)}`}` : `set ${Object.entries(r.settings ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}`;
  return `downlink ${r.id} to ${r.sensorId} (${what}): ${r.state}${r.detail ? ` (${r.detail})` : ""}\n`;
}

async function call(base: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: { error?: string; downlink?: Downlink; downlinks?: Downlink[] } }> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { error: text.slice(0, 200) };
  }
  return { status: response.status, json };
}

export async function deviceCommand(argv: string[], io: CommandIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: { gateway: { type: "string" }, token: { type: "string" }, wait: { type: "string" }, ttl: { type: "string" }, limit: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    io.err(`xsedge device: ${(e as Error).message}\nRun "xsedge device --help" for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err)(DEVICE_USAGE);
    return values.help ? 0 : 2;
  }
  const [action, sensorId, ...rest] = positionals;
  const base = values.gateway ?? env.XSEDGE_GATEWAY_URL ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`;
  const token = values.token ?? env.XSEDGE_API_TOKEN;
  const seconds = (flag: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    if (!/^\d{1,7}$/.test(raw)) throw new UsageError(`--${flag} must be a whole number of seconds, got "${raw}"`);
    return Number(raw);
  };
  try {
    try {
      new URL(base);
    } catch {
      throw new UsageError(`--gateway must be a URL, got "${base}"`);
    }
    const wait = seconds("wait", values.wait);
    const ttl = seconds("ttl", values.ttl);
    if (action === "downlinks") {
      if (rest.length > 0) throw new UsageError("downlinks takes at most a sensor id");
      const limit = values.limit === undefined ? 20 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be from 1 to 1000, got "${values.limit}"`);
      const query = new URLSearchParams({ limit: String(limit), ...(sensorId ? { sensorId } : {}) });
      const { status, json } = await call(base, token, "GET", `/api/v1/downlinks?${query}`);
      if (status !== 200) return failed(io, status, json.error);
      for (const r of json.downlinks ?? []) io.out(describe(r));
      return 0;
    }
    if (action !== "set" && action !== "command") throw new UsageError(`unknown action "${action}"; set, command or downlinks`);
    if (!sensorId) throw new UsageError(`${action} needs a sensor id`);
    let body: object;
    if (action === "set") {
      if (rest.length === 0) throw new UsageError("set needs at least one <key>=<value>");
      body = { sensorId, settings: Object.fromEntries(rest.map(parseAssignment)) };
    } else {
      if (rest.length < 1 || rest.length > 2) throw new UsageError("command needs a name, and at most one argument");
      body = { sensorId, command: rest[0], ...(rest.length === 2 ? { arg: parseValue(rest[1]) } : {}) };
    }
    if (ttl !== undefined) body = { ...body, ttlSeconds: ttl };
    const { status, json } = await call(base, token, "POST", "/api/v1/downlinks", body);
    if (status !== 202 || !json.downlink) return failed(io, status, json.error);
    let record = json.downlink;
    io.out(describe(record));
    if (wait === undefined) return 0;
    const deadline = Date.now() + wait * 1000;
    let last = record.state;
    while (!FINAL.has(record.state) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const answer = await call(base, token, "GET", `/api/v1/downlinks?id=${record.id}`);
      if (answer.status !== 200 || !answer.json.downlinks?.[0]) return failed(io, answer.status, answer.json.error);
      record = answer.json.downlinks[0];
      if (record.state !== last) io.out(describe(record));
      last = record.state;
    }
    return record.state === "applied" ? 0 : FINAL.has(record.state) ? 1 : 3;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`xsedge device: ${(e as Error).message}\nRun "xsedge device --help" for usage.\n`);
      return 2;
    }
    io.err(`xsedge device: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ""}\n`);
    return 1;
  }
}

function failed(io: CommandIo, status: number, error: string | undefined): number {
  io.err(`xsedge device: the gateway answered ${status}${error ? `: ${error}` : ""}\n`);
  return 1;
}
