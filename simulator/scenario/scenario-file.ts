/*
 * A scenario file (YAML, or JSON in a .json file) → a Scenario, or every
 * error at once, each naming the file, line, column and field (the
 * positions come from hosts/config-text, as the gateway's config does).
 * File names in it (an app bundle, a CSV trace) are relative to it.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parsePositioned } from "../../hosts/config-text/positioned-text.js";
import { printable } from "../../hosts/config-text/printable.js";
import { MODELLED_PARTS, type ModelledPart } from "../sensors/part-builder.js";
import { readFaults, readSignals, type TraceLoader } from "./scenario-parts.js";
import { readEvents, readExpectations } from "./scenario-timeline.js";
import type { DeviceGroup, GatewaySpec, Scenario, TimeMode } from "./scenario-types.js";
import { FieldReader, show, type Field } from "./yaml-fields.js";

export type ScenarioResult = { ok: true; scenario: Scenario } | { ok: false; errors: string[] };

const ROOT = ["name", "description", "seed", "time", "start", "duration", "drain", "workers", "gateway", "cloud", "network", "devices", "events", "expect"] as const;
const GROUP = ["name", "count", "app", "part", "samplePeriod", "batchMaxAge", "bootAt", "signals", "faults", "config", "registered"] as const;
const NAME = /^[A-Za-z0-9._:-]{1,24}$/;
/** The most devices one scenario may have: what a 24 GB machine holds (bench/fleet-figures). */
export const MAX_SCENARIO_DEVICES = 20_000;
const ADDRESS = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

/** Nesting refused before parsing: a hostile or broken file must not recurse the parser out of stack. */
export const MAX_SCENARIO_DEPTH = 16;

export function readScenarioFile(path: string): ScenarioResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, errors: [`${path}: cannot read the scenario: ${(error as Error).message}`] };
  }
  return readScenarioText(path, text, (file) => readFileSync(resolve(dirname(path), file), "utf8"));
}

export function readScenarioText(fileName: string, text: string, loadTrace: TraceLoader = () => {
  throw new Error("no trace files here");
}): ScenarioResult {
  const result = readScenario(fileName, text, loadTrace);
  // Errors quote what the user wrote; whatever a message quotes, it prints as one safe line.
  return result.ok ? result : { ok: false, errors: result.errors.map(printable) };
}

function readScenario(fileName: string, text: string, loadTrace: TraceLoader): ScenarioResult {
  const parsed = parsePositioned(fileName, text, { what: "a scenario file", maxDepth: MAX_SCENARIO_DEPTH, depthHint: "a scenario nests at most 6 levels (devices[].parts[].faults[].field)" });
  if (!parsed.ok) return { ok: false, errors: [parsed.error] };
  const r = new FieldReader(parsed.text);
  const fields = r.object(r.root(), ROOT);
  if (!fields) return { ok: false, errors: r.errors };
  const get = (key: string) => {
    const field = fields.get(key);
    return r.present(field) ? field : undefined;
  };
  const required = (key: string): Field | undefined => get(key) ?? r.error({ node: r.root().node, path: key }, "is required");
  const base = dirname(fileName);

  const name = required("name") && r.string(fields.get("name")!);
  const description = get("description") && r.string(get("description")!);
  const seed = get("seed") ? r.number(get("seed")!, { min: 0, max: 0xffffffff, integer: true }) : 1;
  const time = (get("time") ? r.string(get("time")!, { oneOf: ["virtual", "real"] }) : "virtual") as TimeMode | undefined;
  let startMs: number | undefined;
  if (get("start")) {
    const start = r.value(get("start")!);
    startMs = typeof start === "string" ? Date.parse(start) : start instanceof Date ? start.getTime() : NaN;
    if (!Number.isFinite(startMs)) r.error(get("start")!, `must be a date and time such as 2026-01-01T00:00:00Z, got ${show(start)}`);
    else if (time === "real") r.error(get("start")!, "is for virtual time: a real-time scenario starts now");
  }
  const durationMs = required("duration") && r.duration(fields.get("duration")!, { min: 1 });
  const drainMs = get("drain") ? r.duration(get("drain")!) : undefined;
  const workers = get("workers") ? r.number(get("workers")!, { min: 1, max: 256, integer: true }) : undefined;
  const gateway = readGateway(r, get("gateway"), time ?? "virtual");
  const cloud = get("cloud") ? r.object(get("cloud")!, ["latency"]) : undefined;
  const cloudLatencyMs = cloud?.get("latency") ? r.duration(cloud.get("latency")!, { max: 60_000 }) : 20;
  const network = readNetwork(r, get("network"), time ?? "virtual");

  const groups: DeviceGroup[] = [];
  const deviceList = required("devices") && r.list(fields.get("devices")!);
  let total = 0;
  for (const field of deviceList ?? []) {
    const group = readGroup(r, field, base, loadTrace, groups);
    if (group) {
      groups.push(group);
      total += group.count;
    }
  }
  if (deviceList && deviceList.length === 0) r.error(fields.get("devices")!, "needs at least one group of devices");
  if (total > MAX_SCENARIO_DEVICES) r.error(fields.get("devices")!, `${total} devices is more than ${MAX_SCENARIO_DEVICES}`);
  const events = get("events") ? readEvents(r, get("events")!, { groups, durationMs: durationMs ?? Infinity, time: time ?? "virtual", gateway, loadTrace }) : [];
  const expectations = get("expect") ? readExpectations(r, get("expect")!, { groups, time: time ?? "virtual", gateway }) : [];

  // In the order of the file, as a compiler lists them.
  r.errors.sort(byPosition);
  if (r.errors.length > 0 || name === undefined || seed === undefined || time === undefined || durationMs === undefined || !gateway || !network || cloudLatencyMs === undefined) {
    return { ok: false, errors: r.errors.length > 0 ? r.errors : [`${fileName}: the scenario is incomplete`] };
  }
  const longestBatch = Math.max(...groups.map((g) => g.batchMaxAgeMs + g.samplePeriodMs));
  return {
    ok: true,
    scenario: {
      file: fileName, name, description, seed, time, startMs, durationMs,
      // Long enough for the last batch to close and travel, unless the file says.
      drainMs: drainMs ?? Math.min(10 * 60_000, 2 * longestBatch + 30_000),
      workers, gateway, cloudLatencyMs, network, groups, events, expectations,
    },
  };
}

function byPosition(a: string, b: string): number {
  const at = (e: string) => /:(\d+):(\d+): /.exec(e)?.slice(1).map(Number) ?? [0, 0];
  const [la, ca] = at(a);
  const [lb, cb] = at(b);
  return la - lb || ca - cb;
}

function readGateway(r: FieldReader, field: Field | undefined, time: TimeMode): GatewaySpec | undefined {
  const fields = field ? r.object(field, ["kind", "address", "commit", "relayInterval", "highWater", "lowWater", "rateLimit"]) : new Map<string, Field>();
  if (!fields) return undefined;
  const kindField = fields.get("kind");
  const kind = kindField ? r.string(kindField, { oneOf: ["model", "spawn", "external"] }) : time === "virtual" ? "model" : "spawn";
  if (kind === undefined) return undefined;
  if (kindField && (kind === "model") !== (time === "virtual")) {
    return r.error(kindField, kind === "model" ? "the gateway model runs in virtual time (time: virtual)" : `a ${kind} gateway runs in real time (time: real)`);
  }
  const onlyFor = (key: string, kinds: string) => fields.has(key) && r.error(fields.get(key)!, `is for a ${kinds} gateway, not ${kind}`);
  if (kind === "model") {
    ["address", "rateLimit"].forEach((key) => onlyFor(key, "spawn or external"));
    const commitMs = fields.get("commit") ? r.duration(fields.get("commit")!, { max: 60_000 }) : 5;
    const relayIntervalMs = fields.get("relayInterval") ? r.duration(fields.get("relayInterval")!, { min: 1, max: 600_000 }) : 200;
    const highWater = fields.get("highWater") ? r.number(fields.get("highWater")!, { min: 1, integer: true }) : undefined;
    const lowWater = fields.get("lowWater") ? r.number(fields.get("lowWater")!, { min: 1, integer: true }) : undefined;
    if (highWater !== undefined && lowWater !== undefined && lowWater > highWater) return r.error(fields.get("lowWater")!, `must not be above highWater (${highWater})`);
    if (commitMs === undefined || relayIntervalMs === undefined) return undefined;
    return { kind, commitMs, relayIntervalMs, highWater, lowWater };
  }
  ["commit", "relayInterval", "highWater", "lowWater"].forEach((key) => onlyFor(key, "model"));
  if (kind === "external") {
    const address = fields.get("address") ? r.string(fields.get("address")!, { pattern: ADDRESS, expected: "<IPv4 address>:<port>" }) : r.error({ node: field?.node ?? null, path: "gateway.address" }, "is required for an external gateway");
    if (fields.has("rateLimit")) onlyFor("rateLimit", "spawn");
    const match = address ? ADDRESS.exec(address) : null;
    return match ? { kind, address: match[1], port: Number(match[2]) } : undefined;
  }
  if (fields.has("address")) onlyFor("address", "external");
  const limit = fields.get("rateLimit") ? r.object(fields.get("rateLimit")!, ["perSecond", "burst"]) : undefined;
  const rateLimitPerSecond = limit?.get("perSecond") ? r.number(limit.get("perSecond")!, { min: 0.001, max: 1_000_000 }) : undefined;
  const rateLimitBurst = limit?.get("burst") ? r.number(limit.get("burst")!, { min: 1, max: 1_000_000, integer: true }) : undefined;
  return { kind: "spawn", rateLimitPerSecond, rateLimitBurst };
}

function readNetwork(r: FieldReader, field: Field | undefined, time: TimeMode) {
  const fields = field ? r.object(field, ["latency", "jitter", "loss"]) : new Map<string, Field>();
  if (!fields) return undefined;
  // Virtual time needs some latency: it is how far workers may run ahead of what they hear.
  const latencyMs = fields.get("latency") ? r.duration(fields.get("latency")!, { min: time === "virtual" ? 1 : 0, max: 60_000 }) : time === "virtual" ? 5 : 0;
  const jitterMs = fields.get("jitter") ? r.duration(fields.get("jitter")!, { max: 60_000 }) : 0;
  const loss = fields.get("loss") ? r.number(fields.get("loss")!, { min: 0, max: 0.5 }) : 0;
  if (latencyMs === undefined || jitterMs === undefined || loss === undefined) return undefined;
  return { latencyMs, jitterMs, loss, partitioned: false };
}

function readGroup(r: FieldReader, field: Field, base: string, loadTrace: TraceLoader, earlier: DeviceGroup[]): DeviceGroup | undefined {
  const fields = r.object(field, GROUP);
  if (!fields) return undefined;
  const get = (key: string) => (r.present(fields.get(key)) ? fields.get(key)! : undefined);
  const nameField = get("name") ?? r.error({ node: field.node, path: `${field.path}.name` }, "is required (device ids are <name>-1, <name>-2, ...)");
  const name = nameField && r.string(nameField, { pattern: NAME, expected: "1 to 24 letters, digits or . _ : -" });
  if (name && earlier.some((g) => g.name === name)) r.error(nameField!, `names another group already: "${name}"`);
  const count = get("count") ? r.number(get("count")!, { min: 1, max: MAX_SCENARIO_DEVICES, integer: true }) : 1;
  const part = (get("part") ? r.string(get("part")!, { oneOf: MODELLED_PARTS }) : "tmp117") as ModelledPart | undefined;
  const app = get("app") ? r.string(get("app")!) : undefined;
  const samplePeriodMs = get("samplePeriod") ? r.duration(get("samplePeriod")!, { min: 10, max: 86_400_000 }) : 1000;
  const batchMaxAgeMs = get("batchMaxAge") ? r.duration(get("batchMaxAge")!, { max: 86_400_000 }) : 10_000;
  const bootAtMs = get("bootAt") ? r.duration(get("bootAt")!) : 0;
  const signals = get("signals") ? readSignals(r, get("signals")!, loadTrace) : {};
  const faults = get("faults") ? readFaults(r, get("faults")!, part) : {};
  const registered = get("registered") ? r.boolean(get("registered")!) : true;
  let config: Record<string, unknown> | undefined = {};
  if (get("config")) {
    const value = r.value(get("config")!);
    if (typeof value !== "object" || value === null || Array.isArray(value)) config = r.error(get("config")!, "must be a mapping of mc/config keys");
    else config = value as Record<string, unknown>;
  }
  if (name === undefined || count === undefined || part === undefined || samplePeriodMs === undefined || batchMaxAgeMs === undefined || bootAtMs === undefined
    || !signals || !faults || registered === undefined || !config) return undefined;
  return { name, count, app: app === undefined ? undefined : resolve(base, app), part, samplePeriodMs, batchMaxAgeMs, bootAtMs, signals, faults, config, registered };
}
