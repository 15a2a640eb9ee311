/*
 * The parts of a scenario file about time: `events` (what happens to the
 * devices, the network, the gateway and the cloud, and when) and `expect`
 * (what must hold afterwards).
 */
import { isMap, isScalar, type Pair, type YAMLMap } from "yaml";
import { didYouMean } from "../../hosts/config-text/did-you-mean.js";
import { CUT_KINDS } from "../xs-fleet/fleet-protocol.js";
import { readFaults, readSignals, QUANTITIES, type TraceLoader } from "./scenario-parts.js";
import type { ExpectationSpec, GatewaySpec, ScenarioAction, ScenarioEvent, Selector, TimeMode } from "./scenario-types.js";
import { formatDuration, show, type Field, type FieldReader } from "./yaml-fields.js";

const ACTIONS = ["cloud", "gateway", "faults", "signals", "power", "powerCut", "network"] as const;
const EVENT_KEYS = ["at", "for", "devices", "downFor", "rebootAfter", ...ACTIONS] as const;
const EXPECTATIONS = ["delivered", "noUncaught", "backlogDrains", "flashWear", "lossAtMostOpenBatch", "readings", "rateLimited"] as const;

interface Context {
  groups: ReadonlyArray<{ name: string; count: number }>;
  durationMs: number;
  time: TimeMode;
  gateway: GatewaySpec | undefined;
  loadTrace: TraceLoader;
}

/** `devices:` — "all", an id (name-3), a pattern (name-*), or a list of them; each must name at least one device. */
export function readSelector(r: FieldReader, field: Field, groups: Context["groups"]): Selector | undefined {
  const value = r.value(field);
  if (value === "all") return { all: true };
  const patterns = typeof value === "string" ? [value] : Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined;
  if (!patterns || patterns.length === 0) return r.error(field, `must be all, a device id, a pattern such as ${groups[0]?.name ?? "fleet"}-*, or a list of them, got ${show(value)}`);
  for (const pattern of patterns) {
    if (selects(pattern, groups) === 0) return r.error(field, `"${pattern}" names no device of this scenario (groups: ${groups.map((g) => `${g.name}-1..${g.count}`).join(", ")})`);
  }
  return { patterns };
}

/** How many of the groups' devices a pattern names. */
function selects(pattern: string, groups: Context["groups"]): number {
  const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  let count = 0;
  for (const g of groups) for (let n = 1; n <= g.count; n++) if (regex.test(`${g.name}-${n}`)) count++;
  return count;
}

export function matches(selector: Selector, sensorId: string): boolean {
  if ("all" in selector) return true;
  return selector.patterns.some((pattern) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(sensorId));
}

export function readEvents(r: FieldReader, field: Field, context: Context): ScenarioEvent[] {
  const events: ScenarioEvent[] = [];
  for (const item of r.list(field) ?? []) {
    const fields = r.object(item, EVENT_KEYS);
    if (!fields) continue;
    const actions = ACTIONS.filter((a) => fields.has(a));
    if (actions.length !== 1) {
      r.error(item, actions.length === 0 ? `needs one of ${ACTIONS.join(", ")}` : `has ${actions.join(" and ")}: one action per event`);
      continue;
    }
    const atField = fields.get("at") ?? r.error({ node: item.node, path: `${item.path}.at` }, "is required");
    const atMs = atField && r.duration(atField);
    if (atMs !== undefined && atMs > context.durationMs) r.error(atField!, `is after the scenario's end (${formatDuration(context.durationMs)})`);
    const forMs = fields.get("for") ? r.duration(fields.get("for")!, { min: 1 }) : undefined;
    const action = readAction(r, actions[0], fields, item, context);
    if (atMs === undefined || action === undefined || (fields.has("for") && forMs === undefined)) continue;
    if (forMs !== undefined && (action.kind === "cloud" || action.kind === "gateway" || action.kind === "powerCut")) {
      r.error(fields.get("for")!, `does not apply to ${action.kind} (${action.kind === "gateway" ? "use downFor" : action.kind === "powerCut" ? "use rebootAfter" : "add a later event that brings it back"})`);
      continue;
    }
    events.push({ atMs, forMs, action, where: r.where(item) });
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

function readAction(r: FieldReader, kind: (typeof ACTIONS)[number], fields: Map<string, Field>, item: Field, context: Context): ScenarioAction | undefined {
  const value = fields.get(kind)!;
  const devices = () => {
    const f = fields.get("devices");
    return f ? readSelector(r, f, context.groups) : r.error({ node: item.node, path: `${item.path}.devices` }, `is required for ${kind}`);
  };
  const notFor = (key: string) => fields.has(key) && r.error(fields.get(key)!, `does not apply to ${kind}`);
  if (kind !== "gateway") notFor("downFor");
  if (kind !== "powerCut") notFor("rebootAfter");
  switch (kind) {
    case "cloud": {
      notFor("devices");
      const state = r.string(value, { oneOf: ["down", "up"] });
      if (context.time === "real" && context.gateway?.kind !== "spawn") return r.error(value, "a cloud outage needs the gateway model or a spawned gateway (with its reference cloud)");
      return state === undefined ? undefined : { kind, up: state === "up" };
    }
    case "gateway": {
      notFor("devices");
      const how = r.string(value, { oneOf: ["kill", "restart"] });
      if (context.gateway?.kind === "external") return r.error(value, "an external gateway is not the simulator's to kill or restart");
      const downForMs = fields.get("downFor") ? r.duration(fields.get("downFor")!, { max: 86_400_000 }) : 10_000;
      return how === undefined || downForMs === undefined ? undefined : { kind, how: how as "kill" | "restart", downForMs };
    }
    case "faults": {
      const faults = readFaults(r, value, undefined);
      const selector = devices();
      return faults && selector ? { kind, devices: selector, faults } : undefined;
    }
    case "signals": {
      const signals = readSignals(r, value, context.loadTrace);
      const selector = devices();
      return signals && selector ? { kind, devices: selector, signals } : undefined;
    }
    case "power": {
      const state = r.string(value, { oneOf: ["off", "on"] });
      const selector = devices();
      return state && selector ? { kind, devices: selector, on: state === "on" } : undefined;
    }
    case "powerCut": {
      const cut = r.object(value, ["during", "after"]);
      const during = cut?.get("during") ? r.string(cut.get("during")!, { oneOf: CUT_KINDS }) : "any";
      const after = cut?.get("after") ? r.number(cut.get("after")!, { min: 0, max: 1_000_000, integer: true }) : 0;
      const rebootAfterMs = fields.get("rebootAfter") ? r.duration(fields.get("rebootAfter")!, { max: 86_400_000 }) : 5_000;
      const selector = devices();
      if (!cut || during === undefined || after === undefined || rebootAfterMs === undefined || !selector) return undefined;
      return { kind, devices: selector, during: during as "any" | "write" | "erase", after, rebootAfterMs };
    }
    case "network": {
      const net = r.object(value, ["partitioned", "latency", "jitter", "loss"]);
      const selector = devices();
      if (!net || !selector) return undefined;
      const conditions: Record<string, number | boolean> = {};
      if (net.get("partitioned")) {
        const on = r.boolean(net.get("partitioned")!);
        if (on !== undefined) conditions.partitioned = on;
      }
      for (const key of ["latency", "jitter"] as const) {
        const f = net.get(key);
        const ms = f ? r.duration(f, { min: key === "latency" && context.time === "virtual" ? 1 : 0, max: 60_000 }) : undefined;
        if (ms !== undefined) conditions[`${key}Ms`] = ms;
      }
      const loss = net.get("loss") ? r.number(net.get("loss")!, { min: 0, max: 0.5 }) : undefined;
      if (loss !== undefined) conditions.loss = loss;
      if (Object.keys(conditions).length === 0) return r.error(value, "needs partitioned, latency, jitter or loss");
      return { kind, devices: selector, conditions };
    }
  }
}

function onlyKey(r: FieldReader, item: Field): { key: string; field: Field } | undefined {
  const node = item.node;
  if (!node || (!isMap(node) && !isScalar(node))) return r.error(item, `must be one of ${EXPECTATIONS.join(", ")}`);
  if (isScalar(node)) {
    // A bare name stands for `name: true`.
    const name = String(node.value);
    return (EXPECTATIONS as readonly string[]).includes(name) ? { key: name, field: { node: null, path: `${item.path}.${name}` } } : r.error(item, `unknown expectation "${name}"${didYouMean(name, EXPECTATIONS)}`);
  }
  const pairs = (node as YAMLMap).items as Pair<unknown, unknown>[];
  const fields = r.object(item, EXPECTATIONS);
  if (!fields) return undefined;
  if (pairs.length !== 1) return r.error(item, `has ${pairs.length} keys: one expectation per item`);
  const [key, field] = [...fields][0] ?? [];
  return key && field ? { key, field } : undefined;
}

export function readExpectations(r: FieldReader, field: Field, context: Omit<Context, "durationMs" | "loadTrace">): ExpectationSpec[] {
  const specs: ExpectationSpec[] = [];
  for (const item of r.list(field) ?? []) {
    const found = onlyKey(r, item);
    if (!found) continue;
    const { key, field: value } = found;
    const text = `${key}${r.present(value) ? ` ${JSON.stringify(r.value(value))}` : ""}`;
    const object = (keys: readonly string[]) => (r.present(value) ? r.object(value, keys) : r.error(value, `needs ${keys.join(", ")}`));
    const at = r.where(item);
    const push = (expectation: ExpectationSpec["expectation"] | undefined) => expectation && specs.push({ expectation, where: at, text });
    switch (key) {
      case "delivered": {
        const raw = r.value(value);
        if (raw === undefined || raw === null || raw === true || raw === "exactly-once") {
          push({ kind: "delivered", devices: { all: true }, exceptPowerCuts: false });
          break;
        }
        const fields = object(["devices", "exceptPowerCuts"]);
        if (!fields) break;
        const devices = fields.get("devices") ? readSelector(r, fields.get("devices")!, context.groups) : { all: true as const };
        const except = fields.get("exceptPowerCuts") ? r.boolean(fields.get("exceptPowerCuts")!) : false;
        if (devices && except !== undefined) push({ kind: "delivered", devices, exceptPowerCuts: except });
        break;
      }
      case "noUncaught":
      case "lossAtMostOpenBatch":
        if (r.present(value) && r.value(value) !== true) r.error(value, "takes true");
        else push({ kind: key });
        break;
      case "backlogDrains": {
        const fields = object(["after", "within"]);
        const afterMs = fields?.get("after") ? r.duration(fields.get("after")!) : r.error({ node: item.node, path: `${value.path}.after` }, "is required");
        const withinMs = fields?.get("within") ? r.duration(fields.get("within")!, { min: 1 }) : r.error({ node: item.node, path: `${value.path}.within` }, "is required");
        if (afterMs !== undefined && withinMs !== undefined) push({ kind: "backlogDrains", afterMs, withinMs });
        break;
      }
      case "flashWear": {
        const fields = object(["maxErases"]);
        const maxErases = fields?.get("maxErases") ? r.number(fields.get("maxErases")!, { min: 0, integer: true }) : r.error({ node: item.node, path: `${value.path}.maxErases` }, "is required");
        if (maxErases !== undefined) push({ kind: "flashWear", maxErases });
        break;
      }
      case "readings": {
        const fields = object(["devices", "quantity", "from", "to", "constant", "absent"]);
        if (!fields) break;
        const devices = fields.get("devices") ? readSelector(r, fields.get("devices")!, context.groups) : r.error({ node: item.node, path: `${value.path}.devices` }, "is required");
        const quantity = fields.get("quantity") ? r.string(fields.get("quantity")!, { oneOf: QUANTITIES }) : "temperature";
        const fromMs = fields.get("from") ? r.duration(fields.get("from")!) : r.error({ node: item.node, path: `${value.path}.from` }, "is required");
        const toMs = fields.get("to") ? r.duration(fields.get("to")!) : r.error({ node: item.node, path: `${value.path}.to` }, "is required");
        const constant = fields.get("constant") ? r.boolean(fields.get("constant")!) : false;
        const absent = fields.get("absent") ? r.boolean(fields.get("absent")!) : false;
        if (constant === absent) r.error(value, "takes one of constant: true or absent: true");
        else if (devices && quantity && fromMs !== undefined && toMs !== undefined && constant !== undefined && absent !== undefined) {
          if (toMs <= fromMs) r.error(fields.get("to")!, "must be after from");
          else push({ kind: "readings", devices, quantity, fromMs, toMs, constant, absent });
        }
        break;
      }
      case "rateLimited": {
        if (context.gateway?.kind !== "spawn") {
          r.error(item, "rate limits are the real gateway's: it needs gateway: { kind: spawn }");
          break;
        }
        const fields = r.present(value) && r.value(value) !== true ? object(["min"]) : new Map<string, Field>();
        const min = fields?.get("min") ? r.number(fields.get("min")!, { min: 1, integer: true }) : 1;
        if (fields && min !== undefined) push({ kind: "rateLimited", min });
        break;
      }
    }
  }
  return specs;
}
